"""The front host of the hosts layout: its container, the one way in (SSH), and what runs there.

The container runs the front image (front_image.py) with host networking, created by the engine
that runs inside the staging namespace (netns.py), like the API containers: it sees only the
staging address, and sshd, its first process, listens on <staging>:<base+5>. The runner reaches it
through the bastion (bastion.py: ProxyJump), as `aura` (front_image.SSH_USER), who owns none of
the files under FRONT_ETC: root's work there, the sandbox's own and the runbook's commands, goes
through sudo (BECOME), as the suite's goes through [front] become. Its sshd files (host
key, authorized_keys, sshd_config) are bind-mounted read-only from <state>/hosts/sshd; nothing
else of the runner is visible there. Its nginx, the runbook's scripts and their config live in
the container's own filesystem under FRONT_ETC and /opt/aura, paths that do not exist on the
runner: after the container starts, everything else `up` does there goes over SSH, as it would
on a real host.

Ours or not: a listener is our front's when it shares the root filesystem of our container's
first process (the child of the conmon that names our container).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from . import ssh_keys
from .errors import SandboxError
from .front_image import SSH_USER
from .layout import Layout
from .nginx_process import TEMP_PATHS, _children, render_conf_at, render_include
from .procs import command_line
from .tls import files as tls_files, front_files_text

Log = Callable[[str], None]

FRONT_ETC = "/etc/aura-front"
NGINX_BIN = "/usr/sbin/nginx"
SSH_READY_TIMEOUT_S = 20.0
SSH_TIMEOUT_S = 60.0
CONFIG_LABEL = "aura.front-config"


# -- where things are on the front ------------------------------------------------------------
class FrontPaths:
    conf = f"{FRONT_ETC}/nginx.staging.conf"
    backup = f"{FRONT_ETC}/nginx.staging.conf.backup"
    include = f"{FRONT_ETC}/upstream.conf"
    error_log = f"{FRONT_ETC}/error.log"
    pid = f"{FRONT_ETC}/nginx.pid"
    tools_config = f"{FRONT_ETC}/tools.toml"  # the scripts' --config; its audit log is next to it
    alerting = f"{FRONT_ETC}/alerting.toml"
    audit_log = f"{FRONT_ETC}/rollback-audit.log"
    scripts = "/opt/aura/sandbox/auraflow/scripts"
    deploy = "/opt/aura/sandbox/auraflow/deploy"

    tls = f"{FRONT_ETC}/tls"  # the sandbox's CA certificate and the front's certificate and key
    ca_file = f"{tls}/ca.pem"
    cert = f"{tls}/front.pem"
    key = f"{tls}/front.key"

    test_cmd = f"{NGINX_BIN} -t -c {conf} -p {FRONT_ETC}"
    reload_cmd = f"{NGINX_BIN} -s reload -c {conf} -p {FRONT_ETC}"
    start_cmd = f"{NGINX_BIN} -c {conf} -p {FRONT_ETC}"


def sshd_config(layout: Layout) -> str:
    m = ssh_keys.SSHD_MOUNT
    return f"""# Written by the Aura Flow sandbox (front_host.py): the front host's sshd.
Port {layout.ports.ssh}
ListenAddress {layout.bind}
HostKey {m}/ssh_host_ed25519_key
AuthorizedKeysFile {m}/authorized_keys
# One login, the deploy user (front_image.SSH_USER): not root, owner of no nginx file. Root's
# work is done under sudo, by the suite's [front] become and by the sandbox itself (run()).
PermitRootLogin no
AllowUsers {SSH_USER}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
PrintMotd no
X11Forwarding no
# The suite's [front] forward opens its tunnels to the database, the engine and the upstreams
# through this host, as a staging behind a bastion needs: local forwards only (-L, and -W for its
# check that a far end answers), TCP for host:port and stream-local for an engine on a unix
# socket. Nothing is ever published from here (no -R). No PermitOpen: it applies to stream-local
# forwards too and takes only host:port, so any list of ports refuses every socket path (found by
# trial: "request to connect to path … denied"). A tunnel still reaches nothing of another
# sandbox: this host's namespace holds only this instance's staging address (netns.py).
AllowTcpForwarding local
AllowStreamLocalForwarding local
# SFTP for clients that read and write the front's files that way (paramiko, testinfra).
Subsystem sftp internal-sftp
"""


# -- SSH --------------------------------------------------------------------------------------
def ssh_config_path(layout: Layout) -> Path:
    return ssh_keys.keys(layout).identity.parent / "config"


def write_ssh_config(layout: Layout) -> Path:
    """The client's ssh_config (`-F`): under `Host *`, so that the ProxyJump hop gets the same
    key, known_hosts and strictness as the front (OpenSSH hands a hop only -l -p -J -F -v)."""
    k = ssh_keys.keys(layout)
    path = ssh_config_path(layout)
    _replace(path, "# Written by the Aura Flow sandbox (front_host.py): the runner's way to the front.\n"
             "Host *\n"
             f"    IdentityFile \"{k.identity}\"\n    IdentitiesOnly yes\n"
             f"    UserKnownHostsFile \"{k.known_hosts}\"\n    GlobalKnownHostsFile /dev/null\n"
             "    StrictHostKeyChecking yes\n    BatchMode yes\n    ConnectTimeout 5\n    LogLevel ERROR\n",
             0o600)
    return path


def proxy_jump(layout: Layout) -> str | None:
    """"aura@<bastion>:<port>" when the layout's namespaces exist (netns.py), else None."""
    from . import bastion, netns

    net = netns.recorded(layout)
    return f"{SSH_USER}@{net.bastion_out}:{bastion.ssh_port(layout)}" if net is not None else None


def ssh_argv(layout: Layout) -> list[str]:
    """The OpenSSH client command that reaches the front through the bastion, strict about both
    host keys."""
    jump = proxy_jump(layout)
    return [shutil.which("ssh") or "/usr/bin/ssh", "-F", str(ssh_config_path(layout)),
            *(["-J", jump] if jump else []), "-p", str(layout.ports.ssh), f"{SSH_USER}@{layout.bind}"]


BECOME = ["/usr/bin/sudo", "-n"]  # the printed [front] become; the sandbox's own root work uses it too


def run(layout: Layout, argv: list[str], *, input: str | None = None,
        timeout: float = SSH_TIMEOUT_S, as_root: bool = True) -> subprocess.CompletedProcess:
    """Run argv on the front (each word quoted for its shell), as root through sudo unless
    `as_root` is False; no exception on a non-zero exit."""
    argv = [*BECOME, *argv] if as_root else argv
    try:
        return subprocess.run([*ssh_argv(layout), "--", shlex.join(argv)], input=input, capture_output=True,
                              text=True, timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 255, "", f"ssh timed out after {timeout:.0f} s")


def wrapper_path(layout: Layout) -> Path:
    return layout.hosts_dir / "bin" / "front-run"


# The runbook's commands run as root on the front (their config and audit log are root's), as a
# team's deploy user runs its rollback scripts through sudo.
FRONT_EXEC = [*BECOME, "/usr/bin/python3", "/opt/aura/sandbox/front/front_exec.py"]

FRONT_RUN_PY = Path(__file__).resolve().parent / "front" / "front_run.py"


def write_wrapper(layout: Layout) -> Path:
    """The runner-side command for [commands] (front/front_run.py, with the runner's python3 in its
    first line, and its settings beside it): its arguments arrive on the front as they were given,
    never interpreted, and it takes the remote command down with it."""
    path = wrapper_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = path.with_name(path.name + ".json")
    _replace(settings, json.dumps({"ssh": ssh_argv(layout), "front_exec": FRONT_EXEC}, indent=1) + "\n", 0o644)
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    _replace(path, f"#!{python} -I\n" + FRONT_RUN_PY.read_text(), 0o755)
    return path


def _replace(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


# -- the container ----------------------------------------------------------------------------
def _get(client: docker.DockerClient, name: str):
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def _config_hash(layout: Layout, image_id: str) -> str:
    k = ssh_keys.keys(layout)
    h = hashlib.sha256(image_id.encode())
    for f in (k.sshd_config, k.authorized_keys, k.host_key):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def ensure_container(client: docker.DockerClient, layout: Layout, image_id: str, log: Log) -> bool:
    """Run our front container on `image_id` with the current sshd files; True if (re)started."""
    k = ssh_keys.keys(layout)
    text = sshd_config(layout)
    if not k.sshd_config.exists() or k.sshd_config.read_text() != text:
        k.sshd_config.write_text(text)
        k.sshd_config.chmod(0o600)
    want = _config_hash(layout, image_id)
    name = layout.front_container
    current = _get(client, name)
    if current is not None:
        labels = current.attrs.get("Config", {}).get("Labels") or {}
        if current.attrs.get("State", {}).get("Running") and labels.get(CONFIG_LABEL) == want:
            return False
        log(f"front: {name} is stale ({current.status}); recreating it")
        remove_container(client, layout, lambda _: None)
    # restart policy "no" is Docker's own default, yet types-docker names only always/on-failure
    client.containers.run(  # type: ignore[call-overload]
        image_id, name=name, detach=True, network_mode="host", restart_policy={"Name": "no"},
        command=["/bin/sh", "-c",
                 f"mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f {ssh_keys.SSHD_MOUNT}/sshd_config"],
        environment={"LANG": "C.UTF-8"},
        labels={"aura.sandbox": str(layout.state), "aura.role": "front", CONFIG_LABEL: want},
        volumes={str(k.sshd_dir): {"bind": ssh_keys.SSHD_MOUNT, "mode": "ro"}},
        # sudo looks its host name up and says so on stderr when it cannot; the engine writes the
        # container's /etc/hosts (the image's would be hidden), so the name goes in here
        hostname="aura-front", extra_hosts={"aura-front": layout.bind})
    log(f"front: started {name} (sshd on {layout.bind}:{layout.ports.ssh})")
    return True


def wait_for_ssh(layout: Layout, client: docker.DockerClient) -> None:
    deadline = time.monotonic() + SSH_READY_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        r = run(layout, ["true"], timeout=10, as_root=False)
        if r.returncode == 0:
            return
        last = (r.stderr.strip().splitlines() or [""])[-1]
        c = _get(client, layout.front_container)
        if c is None or c.status in ("exited", "dead"):
            tail = c.logs(tail=5).decode(errors="replace").strip() if c is not None else "container gone"
            raise SandboxError(f"front: {layout.front_container} exited: {tail[-300:]}")
        time.sleep(0.2)
    raise SandboxError(f"front: no SSH answer on {layout.bind}:{layout.ports.ssh} after "
                       f"{SSH_READY_TIMEOUT_S:.0f} s: {last}")


def remove_container(client: docker.DockerClient, layout: Layout, log: Log) -> None:
    c = _get(client, layout.front_container)
    if c is None:
        return
    with contextlib.suppress(docker.errors.APIError):
        c.stop(timeout=2)
    with contextlib.suppress(docker.errors.NotFound):
        c.remove(force=True)
    log(f"front: removed {layout.front_container}")


def container_running(client: docker.DockerClient, layout: Layout) -> tuple[bool, str]:
    c = _get(client, layout.front_container)
    if c is None:
        return False, f"{layout.front_container} absent"
    return bool(c.attrs.get("State", {}).get("Running")), f"{layout.front_container} {c.status}"


# -- recognising our front's processes on the runner -------------------------------------------
def _root_id(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/root")
        return st.st_dev, st.st_ino
    except OSError:
        return None


def our_process_roots(layout: Layout) -> set[tuple[int, int]]:
    """Root filesystems of our front container's processes, found through its conmon (whose
    command line names the container; sshd and nginx rewrite their own command line and
    environment, so neither can be trusted to say whose they are)."""
    name = f"-n {layout.front_container} "
    roots = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            cmd = command_line(int(entry.name))
            if "conmon" in cmd and name in cmd + " ":
                for child in _children(int(entry.name)):
                    rid = _root_id(child)
                    if rid is not None and rid != _root_id(os.getpid()):
                        roots.add(rid)
    return roots


def is_ours(layout: Layout, pid: int, roots: set[tuple[int, int]]) -> bool:
    return bool(command_line(pid)) and _root_id(pid) in roots


# -- the front's files, over SSH ---------------------------------------------------------------
# The programs that run there (with the front's python3, `python3 -c`, a JSON object on stdin):
FRONT_PROGRAMS = Path(__file__).resolve().parent / "front"
BASELINE_PY = FRONT_PROGRAMS / "nginx_baseline.py"
STATUS_PY = FRONT_PROGRAMS / "nginx_status.py"


def _nginx_params() -> dict:
    f = FrontPaths
    return {"nginx": NGINX_BIN, "conf": f.conf, "prefix": FRONT_ETC, "pid": f.pid, "include": f.include,
            "backup": f.backup}


def ensure_baseline(layout: Layout, active_address: str, tools_config: str, alerting: str, log: Log) -> None:
    """Write the front's nginx files, its TLS files (the sandbox's CA, tls.py) and the scripts'
    config as the baseline, and make its nginx serve them (nginx -t, then reload or start)."""
    f = FrontPaths
    conf = render_conf_at(FRONT_ETC, f.include, layout.ports.front, cert=f.cert, key=f.key, host=layout.bind)
    tls = front_files_text(tls_files(layout))
    payload = {**_nginx_params(),
               "dirs": [f"{FRONT_ETC}/temp/{name}" for name in TEMP_PATHS] + [f.tls],
               "files": {f.conf: [conf, 0o644], f.backup: [conf, 0o644],
                         f.include: [render_include(active_address), 0o644],
                         f.tools_config: [tools_config, 0o600], f.alerting: [alerting, 0o600],
                         f.ca_file: [tls["ca.pem"], 0o644], f.cert: [tls["front.pem"], 0o644],
                         f.key: [tls["front.key"], 0o600]},
               "reload_on": [f.conf, f.include, f.cert, f.key]}
    r = run(layout, ["python3", "-c", BASELINE_PY.read_text()], input=json.dumps(payload))
    try:
        result = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SandboxError(f"front: writing the baseline over SSH failed ({r.returncode}): "
                           f"{(r.stderr.strip().splitlines() or ['no output'])[-1]}") from None
    if "error" in result or r.returncode != 0:
        raise SandboxError(f"front: {result.get('error') or result.get('action')}")
    if result["action"] != "none":
        log(f"front: nginx {result['action']} on {layout.bind}:{layout.ports.front}")
    elif result["changed"]:
        log(f"front: baseline files rewritten: {', '.join(result['changed'])}")


def nginx_status(layout: Layout) -> dict | None:
    """{running, test_ok, include, conf_is_backup} read on the front, None if SSH fails."""
    r = run(layout, ["python3", "-c", STATUS_PY.read_text()], input=json.dumps(_nginx_params()), timeout=20)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None
