"""nginx as a plain process: the staging front, proxying to the pool the upstream include names.

The config, its known-good backup (`nginx.staging.conf.backup`, as in the runbook) and the include
live in `<state>/nginx`, which is also nginx's prefix (pid, logs, temp paths).

nginx runs as the sandbox's owner (owner.py): root, or the sudo route's user, whose runbook scripts
rewrite the include and reload this nginx. Its folder is the owner's, and every nginx command the
sandbox itself runs (-t, start, reload) runs as the owner, so no file in it becomes root's.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from .errors import SandboxError
from .layout import Layout
from .owner import current as current_owner
from .procs import alive, command_line, pids_holding_files_under, read_pid, stop_pid, wait_for_port
from .tls import files as tls_files

TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
NGINX_TIMEOUT_S = 15


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def nginx_bin() -> str:
    wanted = os.environ.get("AURA_SANDBOX_NGINX")
    if wanted:
        if not (os.path.isfile(wanted) and os.access(wanted, os.X_OK)):
            raise SandboxError(f"nginx binary not found: {wanted} (AURA_SANDBOX_NGINX)")
        return wanted
    for candidate in ("/usr/sbin/nginx", shutil.which("nginx")):
        if candidate and os.path.isfile(candidate):
            return candidate
    raise SandboxError("nginx binary not found: install it with 'apt-get install -y nginx'")


def render_conf(layout: Layout) -> str:
    tls = tls_files(layout) if layout.tls else None  # AURA_SANDBOX_TLS=0: plain HTTP (a benchmark's side)
    return render_conf_at(str(layout.nginx_dir), str(layout.upstream_include), layout.ports.front,
                          as_root=current_owner().is_root, cert=str(tls.cert) if tls else "",
                          key=str(tls.key) if tls else "", cert_id=tls.cert_id() if tls else "")


def render_conf_at(p: str, include: str, port: int, *, cert: str, key: str, as_root: bool = True,
                   cert_id: str = "", host: str = "127.0.0.1") -> str:
    """The front's config with its prefix `p` (pid, logs, temp paths) wherever that host keeps it.
    A master started as root needs `user root` so that its workers may use the temp paths under
    this prefix; a master started as another user runs its workers as that user already (nginx
    warns about a `user` line it cannot honour). The front serves HTTPS with `cert` / `key` (the
    sandbox's own CA, tls.py); TLS ends here and the upstreams stay plain HTTP. Without a `cert`
    it serves plain HTTP."""
    user = ("# Started as root; `user root` lets workers use the temp paths under this prefix.\nuser root;"
            if as_root else "# Started as the sandbox's owner; the workers run as that user too.")
    temps = "\n".join(f"    {name}_temp_path {p}/temp/{name};" for name in TEMP_PATHS)
    proxy = ("proxy_pass http://aura_api; proxy_http_version 1.1; proxy_set_header Connection \"\";"
             " proxy_set_header Host $host; proxy_connect_timeout 1s; proxy_read_timeout 5s;")
    # The certificate's digest in the config: a certificate made anew changes the config, so
    # `up` reloads nginx, which reads certificates only when it loads its config.
    cert_line = f"# front certificate sha256 {cert_id}\n" if cert_id else ""
    listen = (f"        listen {host}:{port} ssl;\n        ssl_certificate {cert};\n"
              f"        ssl_certificate_key {key};\n        ssl_protocols TLSv1.2 TLSv1.3;\n"
              f"        ssl_session_cache shared:aura_tls:1m;" if cert else f"        listen {host}:{port};")
    return f"""# Aura Flow staging front (sandbox). Traffic goes to the pool named in upstream.conf.
{cert_line}{user}
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {p}/access.log;
{temps}
    upstream aura_api {{
        include {include};
        keepalive 16;
    }}
    server {{
{listen}
        location = /healthz {{ {proxy} }}
        location = /status {{ {proxy} }}
        location = /metrics {{ {proxy} }}
        location /api/ {{ {proxy} }}
        location / {{ return 404 "not found\\n"; }}
    }}
}}
"""


def render_include(address: str) -> str:
    return f"server {address};\n"


def test_args(layout: Layout) -> list[str]:
    return [nginx_bin(), "-t", "-q", "-c", str(layout.nginx_conf), "-p", str(layout.nginx_dir)]


def reload_args(layout: Layout) -> list[str]:
    return [nginx_bin(), "-s", "reload", "-c", str(layout.nginx_conf), "-p", str(layout.nginx_dir)]


def _master_pid(layout: Layout) -> int | None:
    pid = read_pid(layout.nginx_pid)
    # A stale pid file may name a recycled PID, or another nginx: only a master of our config counts.
    return pid if alive(pid) and str(layout.nginx_conf) in command_line(pid) else None


def is_running(layout: Layout) -> bool:
    return _master_pid(layout) is not None


def config_test(layout: Layout) -> tuple[bool, str]:
    r = subprocess.run(test_args(layout), **current_owner().process_kwargs(), capture_output=True, text=True,
                       timeout=NGINX_TIMEOUT_S)
    return r.returncode == 0, (r.stderr or r.stdout).strip()


def write_baseline_files(layout: Layout, active_address: str) -> bool:
    """Write conf, backup and include as the baseline; True if anything changed on disk. The
    folder and everything in it (logs and temp files of an earlier owner too) end up the owner's."""
    layout.nginx_dir.mkdir(parents=True, exist_ok=True)
    for name in TEMP_PATHS:
        (layout.nginx_dir / "temp" / name).mkdir(parents=True, exist_ok=True)
    wanted = {layout.nginx_conf: render_conf(layout), layout.nginx_backup: render_conf(layout),
              layout.upstream_include: render_include(active_address)}
    changed = False
    for path, text in wanted.items():
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            changed = True
    current_owner().take(layout.nginx_dir, recursive=True)
    return changed


def ensure_nginx(layout: Layout, active_address: str, log: Callable[[str], None]) -> None:
    changed = write_baseline_files(layout, active_address)
    ok, detail = config_test(layout)
    if not ok:
        raise SandboxError(f"nginx -t failed for {layout.nginx_conf}: {_last_line(detail)}")
    master = _master_pid(layout)
    if master is not None and not current_owner().owns_process(master):
        # Started for another owner (root before the sudo route, or the reverse): that owner's
        # processes would reload it no more, so it is started again as this one.
        log("nginx: running as another user; restarting it as the sandbox's owner")
        stop_nginx(layout, log)
    if is_running(layout):
        if changed:
            log("nginx: baseline config restored, reloading")
            r = subprocess.run(reload_args(layout), **current_owner().process_kwargs(), capture_output=True,
                               text=True, timeout=NGINX_TIMEOUT_S)
            if r.returncode != 0:
                raise SandboxError(f"nginx reload failed: {_last_line(r.stderr)}")
        return
    _kill_orphans(layout, log)
    layout.nginx_pid.unlink(missing_ok=True)
    log(f"nginx: starting on 127.0.0.1:{layout.ports.front}")
    r = subprocess.run([nginx_bin(), "-c", str(layout.nginx_conf), "-p", str(layout.nginx_dir)],
                       **current_owner().process_kwargs(), capture_output=True, text=True, timeout=NGINX_TIMEOUT_S)
    if r.returncode != 0 or not wait_for_port(layout.ports.front, 5):
        raise SandboxError(f"nginx did not start on port {layout.ports.front}: {_last_line(r.stderr)}")


def _kill_orphans(layout: Layout, log: Callable[[str], None]) -> None:
    """Workers of a killed master still hold our port and logs: end them before starting anew."""
    for pid in pids_holding_files_under(layout.nginx_dir):
        if "nginx" in command_line(pid):
            log(f"nginx: ending orphaned process {pid} of a killed run")
            stop_pid(pid, timeout=2)


def stop_nginx(layout: Layout, log: Callable[[str], None]) -> None:
    pid = _master_pid(layout)
    if pid:
        log("nginx: stopping")
        workers = _children(pid)  # read before the master goes: orphans are reparented
        stop_pid(pid, timeout=5)  # TERM is nginx's fast shutdown; stop_pid escalates to KILL
        for worker in workers:
            stop_pid(worker, timeout=1)
    else:
        _kill_orphans(layout, log)
    layout.nginx_pid.unlink(missing_ok=True)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out
