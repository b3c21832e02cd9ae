"""Host checks after a rollback: is nginx running, are the ports open, is the config the right one.

Written against a pytest-testinfra host (`testinfra.get_host("local://")`, or `ssh://…` for a real
staging host) using only the modules that need no init system: `host.process` (`ps`),
`host.socket` (`ss` from iproute2, else `netstat`) and `host.file`. `host.service` needs systemd and
is not used. Container checks go through the Docker Engine API (helpers.engine_api).

Each check returns a `HostCheck(name, ok, detail)`; nothing raises for a failed check, so a drill
can record them all and fail on the first.

testinfra behaviours built around (pytest-testinfra 10.2):
- `host.socket("tcp://127.0.0.1:P").is_listening` is true only for a socket bound to exactly
  127.0.0.1:P; one bound to 0.0.0.0:P does not count for it (its "all IPv4" branch compares a bool
  against the socket list), so `port_listening` asks for the address, 0.0.0.0 and :: in turn.
- `host.process.filter(comm="nginx")` runs `ps -Aww -o …`: an nginx master's `args` is
  `nginx: master process /usr/sbin/nginx -c CONF -p PREFIX`, its workers' `nginx: worker process`
  with `ppid` the master's pid. Several nginx instances may run on one host: the master is found
  through the `pid` file the config names, else by the config path in its arguments.
- A minimal host (the hosts layout's front: coreutils, no procps, no iproute2) has no `ps` and
  no `ss`/`netstat`: processes are then read from `/proc/<pid>/stat` and `cmdline` with one small
  `sh` loop, listening sockets from `/proc/net/tcp` and `tcp6` (`parse_proc_net_tcp`).
"""
from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from helpers.container_definition import normalize_image_id
from helpers.engine_api import DockerRuntimeError, Engine
from helpers.front import Front
from helpers.redact import one_line

if TYPE_CHECKING:
    from helpers.config import TargetConfig

__all__ = ["HostCheck", "container_checks", "failed", "front_and_pool_ports", "host_checks",
           "nginx_config_includes", "nginx_config_matches_backup", "nginx_processes", "port_listening"]

_PID = re.compile(r"^\s*pid\s+([^\s;]+)\s*;", re.MULTILINE)


class HostCheck(NamedTuple):
    name: str
    ok: bool
    detail: str


class Proc(NamedTuple):
    """A process as `/proc` shows it (the fields the checks use of testinfra's Process)."""
    pid: int
    ppid: int
    comm: str
    args: str


_PROC_LOOP = ("for d in /proc/[0-9]*; do s=$(cat \"$d/stat\" 2>/dev/null) || continue; "
              "a=$(tr '\\0' ' ' < \"$d/cmdline\" 2>/dev/null); printf '%s\\t%s\\n' \"$s\" \"$a\"; done")


def parse_proc_list(text: str) -> list[Proc]:
    """Lines `<contents of /proc/PID/stat>TAB<cmdline, NULs as spaces>` -> processes."""
    out = []
    for line in text.splitlines():
        stat, _, args = line.partition("\t")
        open_, close = stat.find("("), stat.rfind(")")
        if open_ < 0 or close < 0:
            continue
        fields = stat[close + 2:].split()
        try:
            out.append(Proc(int(stat[:open_]), int(fields[1]), stat[open_ + 1:close], args.strip()))
        except (ValueError, IndexError):
            continue
    return out


_HAS: dict[tuple[int, str], bool] = {}


def _has(host: Any, command: str) -> bool:
    key = (id(host), command)
    if key not in _HAS:
        _HAS[key] = bool(host.exists(command))
    return _HAS[key]


def _processes(host: Any, **match: Any) -> list[Any]:
    """`host.process.filter(**match)`, or the same from `/proc` on a host without `ps`."""
    if _has(host, "ps"):
        return list(host.process.filter(**match))
    procs = parse_proc_list(host.run(f"sh -c {shlex.quote(_PROC_LOOP)}").stdout)
    return [p for p in procs if all(getattr(p, k) == v for k, v in match.items())]


def parse_proc_net_tcp(text: str) -> set[tuple[str, int]]:
    """Listening (state 0A) sockets of a `/proc/net/tcp` or `tcp6` text, as (address, port)."""
    out = set()
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 4 or parts[3] != "0A":
            continue
        address, _, port = parts[1].partition(":")
        raw = bytes.fromhex(address)
        # the kernel prints each 32-bit word in host (little-endian) order
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        out.add((str(ipaddress.ip_address(raw)), int(port, 16)))
    return out


def _check(name: str, ok: bool, detail: str) -> HostCheck:
    return HostCheck(name, bool(ok), one_line(detail, limit=300))


def _uncommented(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _file_text(host: Any, path: str | Path) -> str | None:
    f = host.file(str(path))
    return f.content_string if f.exists and f.is_file else None


def _find_master(host: Any, conf: str) -> tuple[Any | None, str]:
    """(master process or None, how it was looked for)."""
    text = _file_text(host, conf)
    pid_path = None
    if text is not None:
        m = _PID.search(_uncommented(text))
        pid_path = m.group(1) if m else None
    if pid_path:
        pid_text = (_file_text(host, pid_path) or "").strip()
        if not pid_text.isdigit():
            return None, f"pid file {pid_path} missing or empty"
        found = _processes(host, pid=int(pid_text))
        if not found or not str(found[0].args).startswith("nginx: master process"):
            return None, f"no nginx master with pid {pid_text} (from {pid_path})"
        return found[0], f"pid {pid_text} from {pid_path}"
    masters = [p for p in _processes(host, comm="nginx")
               if str(p.args).startswith("nginx: master process")]
    mine = [p for p in masters if conf in str(p.args).split()]
    if mine:
        return mine[0], f"master with -c {conf}"
    if len(masters) == 1 and " -c " not in str(masters[0].args):
        return masters[0], "the only nginx master (default config)"
    return None, f"no nginx master running {conf} ({len(masters)} other masters)"


def nginx_processes(host: Any, conf: str | Path) -> list[HostCheck]:
    """The master of the nginx that runs `conf`, and at least one worker of it."""
    conf = str(conf)
    master, how = _find_master(host, conf)
    if master is None:
        return [_check("nginx master running", False, how),
                _check("nginx workers running", False, "no master")]
    workers = [p for p in _processes(host, ppid=master.pid)
               if str(p.args).startswith("nginx: worker process")]
    return [_check("nginx master running", True, f"pid {master.pid} ({how})"),
            _check("nginx workers running", bool(workers),
                   f"{len(workers)} worker(s) of pid {master.pid}: "
                   + ", ".join(str(p.pid) for p in workers) if workers
                   else f"no worker process under master {master.pid}")]


def port_listening(host: Any, port: int, address: str = "127.0.0.1",
                   name: str | None = None) -> HostCheck:
    """A TCP socket listening on `address:port`, or on every address (0.0.0.0 / ::)."""
    label = name or f"tcp {address}:{port} listening"
    try:
        if not _has(host, "ss") and not _has(host, "netstat"):
            listening: set[tuple[str, int]] = set()
            for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                listening |= parse_proc_net_tcp(_file_text(host, table) or "")
            for bind in dict.fromkeys((address, "0.0.0.0", "::")):
                if (bind, port) in listening:
                    return _check(label, True, f"listening on {bind}:{port} (/proc/net/tcp)")
            return _check(label, False, f"nothing listens on {address}:{port} (/proc/net/tcp)")
    except Exception as e:  # no shell tools at all, command failure
        return _check(label, False, f"cannot list sockets: {type(e).__name__}: {e}")
    for bind in dict.fromkeys((address, "0.0.0.0", "::")):
        try:  # testinfra splits "tcp://ADDR:PORT" at the last colon: no brackets for IPv6
            if host.socket(f"tcp://{bind}:{port}").is_listening:
                return _check(label, True, f"listening on {bind}:{port}")
        except Exception as e:  # no ss/netstat on the host, command failure
            return _check(label, False, f"cannot list sockets: {type(e).__name__}: {e}")
    return _check(label, False, f"nothing listens on {address}:{port}")


def nginx_config_matches_backup(host: Any, conf: str | Path, backup: str | Path) -> HostCheck:
    """The live nginx config is byte-for-byte the backup (what an nginx rollback restores)."""
    name = "nginx config equals backup"
    c, b = host.file(str(conf)), host.file(str(backup))
    if not c.exists:
        return _check(name, False, f"{conf} does not exist")
    if not b.exists:
        return _check(name, False, f"backup {backup} does not exist")
    if c.content == b.content:
        return _check(name, True, f"{conf} == {backup} (sha256 {c.sha256sum[:12]})")
    return _check(name, False, f"{conf} (sha256 {c.sha256sum[:12]}) differs from {backup} "
                               f"(sha256 {b.sha256sum[:12]})")


def nginx_config_includes(host: Any, conf: str | Path, include: str | Path) -> HostCheck:
    """The config has an active (uncommented) `include <upstream include>;` line."""
    name = "nginx config includes upstream"
    text = _file_text(host, conf)
    if text is None:
        return _check(name, False, f"{conf} does not exist")
    pattern = re.compile(r"^\s*include\s+['\"]?" + re.escape(str(include)) + r"['\"]?\s*;",
                         re.MULTILINE)
    if pattern.search(_uncommented(text)):
        return _check(name, True, f"include {include}")
    return _check(name, False, f"no active 'include {include};' in {conf}")


def container_checks(engine: Engine, services: Iterable[tuple[str, str]],
                     expected_image_ids: Mapping[str, str] | None = None) -> list[HostCheck]:
    """Each service container exists under its name, runs, and (if given) on the expected image
    ID (`{"api_v1": "sha256:…"}`)."""
    out = []
    for key, name in services:
        label = f"container {key} ({name})"
        try:
            info = engine.container_info(name)
        except DockerRuntimeError as e:
            out.append(_check(f"{label} running", False, str(e)))
            continue
        if info is None:
            out.append(_check(f"{label} running", False, "no such container"))
            continue
        out.append(_check(f"{label} running", info.running, f"{info.status}, {info.ref}"))
        wanted = (expected_image_ids or {}).get(key)
        if wanted:
            same = info.image_id == normalize_image_id(wanted)
            out.append(_check(f"{label} image", same, f"{info.image_id[:19]} "
                              + ("as expected" if same else f"!= expected {wanted[:19]}")))
    return out


def front_and_pool_ports(cfg: TargetConfig) -> list[tuple[str, str, int]]:
    """(what, host, port) for the front (base_url) and each upstream pool."""
    parts = urlsplit(cfg.target.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    out = [("front", parts.hostname or "127.0.0.1", port)]
    for pool, address in cfg.upstreams.items():
        host, _, p = address.rpartition(":")
        out.append((pool, host.strip("[]"), int(p)))
    return out


def host_checks(front: Front, cfg: TargetConfig, *, engine: Engine | None = None, backup: bool = True,
                expected_image_ids: Mapping[str, str] | None = None) -> list[HostCheck]:
    """Every host check for `cfg`: nginx processes, front and pool ports, nginx config (equal to
    its backup when `backup`, includes the upstream file), and the service containers, all as
    testinfra sees them on the `front`."""
    host = front.testinfra_host()
    checks = nginx_processes(host, cfg.nginx.conf)
    for what, address, port in front_and_pool_ports(cfg):
        if not front.sees_listener(address):
            # a pool on another host than the front: its container check covers it; a base_url
            # on another host (a public endpoint, a load balancer before the front): the probe
            # answers for it, and nginx_processes checks the front's own nginx
            continue
        checks.append(port_listening(host, port, address,
                                     name=f"{what} port {address}:{port} listening"))
    if backup:
        checks.append(nginx_config_matches_backup(host, cfg.nginx.conf, cfg.nginx.backup))
    checks.append(nginx_config_includes(host, cfg.nginx.conf, cfg.nginx.upstream_include))
    if engine is not None:  # the service containers, through the run's engine adapter
        checks.extend(container_checks(engine, cfg.services.items(), expected_image_ids))
    return checks


def failed(checks: Iterable[HostCheck]) -> list[HostCheck]:
    return [c for c in checks if not c.ok]
