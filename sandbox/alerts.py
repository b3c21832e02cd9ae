"""Start and stop the alert receiver process (sandbox/alert_receiver.py) by PID file.

It runs as the sandbox's owner (owner.py), in a folder of theirs: it needs no privilege."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from .errors import SandboxError
from .layout import PROJECT_DIR, Layout
from .owner import current as current_owner
from .private_file import write_private
from .procs import alive, command_line, read_pid, stop_pid, wait_for_port


def _pid_file(layout: Layout):
    return layout.alerts_dir / "receiver.pid"


def token_file(layout: Layout):
    return layout.alerts_dir / "token"


def _our_pid(layout: Layout) -> int | None:
    pid = read_pid(_pid_file(layout))
    cmd = command_line(pid) if alive(pid) else ""
    return pid if "sandbox.alert_receiver" in cmd and str(layout.alerts_dir) in cmd else None


def is_healthy(layout: Layout) -> bool:
    try:
        return httpx.get(f"http://{layout.bind}:{layout.ports.alerts}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_receiver(layout: Layout, token: str, log: Callable[[str], None]) -> None:
    layout.alerts_dir.mkdir(parents=True, exist_ok=True)
    tf = token_file(layout)
    if not tf.exists() or tf.read_text().strip() != token:
        write_private(tf, token + "\n")  # 0600 from its first byte
        stop_receiver(layout, lambda _: None)  # a running receiver holds the old token
    owner = current_owner()
    owner.take(layout.alerts_dir, recursive=True)
    pid = _our_pid(layout)
    if pid and not owner.owns_process(pid):
        log("alert receiver: running as another user; restarting it as the sandbox's owner")
        stop_receiver(layout, log)
    elif pid and is_healthy(layout):
        return
    log(f"alert receiver: starting on {layout.bind}:{layout.ports.alerts}")
    with open(layout.alerts_dir / "receiver.log", "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox.alert_receiver", "--port", str(layout.ports.alerts), "--host", layout.bind,
             "--store", str(layout.alerts_dir), "--token-file", str(tf)], **owner.process_kwargs(),
            cwd=PROJECT_DIR, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(layout).write_text(f"{proc.pid}\n")
    owner.take(layout.alerts_dir, recursive=True)  # the log and pid file just made
    if not wait_for_port(layout.ports.alerts, 5, layout.bind) or not _answers_soon(layout):
        raise SandboxError(f"alert receiver did not start on port {layout.ports.alerts}; "
                           f"see {layout.alerts_dir / 'receiver.log'}")


def _answers_soon(layout: Layout, timeout_s: float = 5.0) -> bool:
    """Our receiver answers /healthz (a port that merely accepts could be anyone's)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_healthy(layout):
            return True
        time.sleep(0.05)
    return False


def is_running(layout: Layout) -> bool:
    """Our receiver (by PID and store folder) answers: another sandbox's on the port is not ours."""
    return _our_pid(layout) is not None and is_healthy(layout)


def stop_receiver(layout: Layout, log: Callable[[str], None]) -> None:
    pid = _our_pid(layout)
    if pid:
        log("alert receiver: stopping")
        stop_pid(pid, timeout=3)
    _pid_file(layout).unlink(missing_ok=True)
