"""Small process utilities: pid files, liveness, bounded stop, port checks.

Everything `up` starts is recorded by PID so that `down` stops exactly that and nothing else
(never a broad name match: another nginx or postgres on the machine is not ours).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeGuard


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().split()
        return int(text[0]) if text else None
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int | None) -> TypeGuard[int]:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def runs_program(pid: int, program: str, serving: Path | None = None) -> bool:
    """Alive (not a zombie), its executable's name is `program`, and, with `serving`, that path is
    one of its arguments: a pid file from a killed run may name a recycled pid, and another
    sandbox's service (another socket) is not ours to stop."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not alive(pid) or not argv or os.path.basename(argv[0].decode(errors="replace")) != program:
        return False
    return serving is None or any(str(serving).encode() in arg for arg in argv)


def stop_pid(pid: int | None, *, timeout: float = 5.0, sig: int = signal.SIGTERM) -> bool:
    """Send `sig`, wait up to `timeout`, then SIGKILL. True if the process is gone."""
    if pid is None or not alive(pid):
        return True
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    time.sleep(0.1)
    return not alive(pid)


def wait_started(proc: subprocess.Popen, answers: Callable[[], bool], timeout: float) -> bool:
    """Poll `answers()` every 0.1 s until it is true (True), the process exits or `timeout` passes
    (False): the start of a service the sandbox runs (dockerd, Podman's API service)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def ephemeral_range(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int] | None:
    """The kernel's range for outgoing connections' local ports; None when it cannot be read."""
    try:
        low, high = (int(x) for x in path.read_text().split())
    except (OSError, ValueError):
        return None
    return low, high


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(port, host):
            return True
        time.sleep(0.05)
    return False


def pids_holding_files_under(folder: Path) -> set[int]:
    """PIDs with an open file below `folder`: how we recognise our own orphans (an nginx worker
    whose master was killed keeps the port and the logs of our prefix open)."""
    prefix = str(folder.resolve()) + "/"
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd).startswith(prefix):
                    found.add(int(entry.name))
                    break
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return found
