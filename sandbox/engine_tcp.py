"""The engine over the network (hosts layout): a second Podman API service on tcp:<staging>:PORT.

Started inside the staging namespace (the caller's thread is there, netns.inside), it listens on
the staging address; the front host reaches it as `tcp://<staging>:<base+6>`, the runner through
`[front] forward` (a tunnel on its SSH connection to the front), the way a team's runner reaches
a staging's engine behind a bastion. It serves the same container store as the sandbox's own unix
socket service (engine.py), so the containers `up` made are the ones the drills see. Like that
service it is a detached process owned by pid file, believed only while that pid is a podman
serving our port.

Only when the engine is ours: a user's own engine ($DOCKER_HOST) that is tcp:// already is used
as it is; a unix-only one cannot be reached from another host, which this layout refuses.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import engine
from .errors import SandboxError
from .layout import Layout
from .procs import alive, command_line, stop_pid

Log = Callable[[str], None]
START_TIMEOUT_S = 15.0


def url(layout: Layout) -> str:
    return f"tcp://{layout.bind}:{layout.ports.engine_tcp}"


def _pid_file(layout: Layout) -> Path:
    return layout.engine_dir / "podman-tcp.pid"


def _our_pid(layout: Layout) -> int | None:
    try:
        pid = int(_pid_file(layout).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    cmd = command_line(pid) if alive(pid) else ""
    # by port, whatever the address: `down` and a switching `up` see it from the runner's side
    # (layout.bind loopback), where the hosts layout started it on the staging address
    words = cmd.split()
    listen = words[-1] if words else ""
    return pid if words and words[0].endswith("podman") and listen.startswith("tcp:") and \
        listen.endswith(f":{layout.ports.engine_tcp}") else None


def is_ours(layout: Layout, pid: int) -> bool:
    return pid == _our_pid(layout)


def ensure(layout: Layout, unix_url: str, log: Log) -> str:
    """A tcp:// URL of the engine `unix_url` names (the one ensure_engine returned)."""
    if not unix_url.startswith(f"unix://{layout.podman_socket}"):
        if unix_url.startswith("tcp://"):
            return unix_url  # the user's own engine is on the network already
        raise SandboxError(f"the hosts layout needs an engine reachable over TCP, and {unix_url} is a "
                           "local socket: unset DOCKER_HOST to use the sandbox's Podman, or point it at tcp://")
    target = url(layout)
    pid = _our_pid(layout)
    if pid is not None and engine.ping(target):
        return target
    if pid is not None:
        stop(layout, log)
    log(f"engine: starting podman system service at {target}")
    conf = layout.engine_dir / "containers.conf"  # written by engine.ensure_engine, same settings
    with open(layout.engine_dir / "podman-tcp.log", "ab") as logf:
        proc = subprocess.Popen(
            [shutil.which("podman") or "podman", "system", "service", "--time=0",
             f"tcp:{layout.bind}:{layout.ports.engine_tcp}"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, close_fds=True,
            env=dict(os.environ, CONTAINERS_CONF=str(conf)), start_new_session=True)
    _pid_file(layout).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if engine.ping(target, timeout=1.0):
            log(f"engine: tcp service ready (pid {proc.pid})")
            return target
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop(layout, lambda _: None)
    raise SandboxError(f"podman service on {target} did not answer within {START_TIMEOUT_S:.0f} s "
                       f"(log {layout.engine_dir / 'podman-tcp.log'})")


def stop(layout: Layout, log: Log) -> None:
    pid = _our_pid(layout)
    if pid is not None:
        log(f"engine: stopping tcp service (pid {pid})")
        stop_pid(pid, timeout=5)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
    _pid_file(layout).unlink(missing_ok=True)


def status(layout: Layout) -> tuple[bool, str]:
    pid = _our_pid(layout)
    target = url(layout)
    if pid is None:
        return False, f"no tcp service ({target})"
    return (True, f"podman pid {pid} answers on {target}") if engine.ping(target) else \
        (False, f"podman pid {pid} does not answer on {target}")
