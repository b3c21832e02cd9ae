"""Start and stop the alert receiver process (sandbox/alert_receiver.py) by PID file."""
from __future__ import annotations

import subprocess
import sys
from typing import Callable

import httpx

from .errors import SandboxError
from .layout import PROJECT_DIR, Layout
from .procs import alive, command_line, read_pid, stop_pid, wait_for_port


def _pid_file(layout: Layout):
    return layout.alerts_dir / "receiver.pid"


def token_file(layout: Layout):
    return layout.alerts_dir / "token"


def _our_pid(layout: Layout) -> int | None:
    pid = read_pid(_pid_file(layout))
    return pid if alive(pid) and "sandbox.alert_receiver" in command_line(pid) else None


def is_healthy(layout: Layout) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{layout.ports.alerts}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_receiver(layout: Layout, token: str, log: Callable[[str], None]) -> None:
    layout.alerts_dir.mkdir(parents=True, exist_ok=True)
    tf = token_file(layout)
    if not tf.exists() or tf.read_text().strip() != token:
        tf.write_text(token + "\n")
        tf.chmod(0o600)
        stop_receiver(layout, lambda _: None)  # a running receiver holds the old token
    if _our_pid(layout) and is_healthy(layout):
        return
    log(f"alert receiver: starting on 127.0.0.1:{layout.ports.alerts}")
    with open(layout.alerts_dir / "receiver.log", "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox.alert_receiver", "--port", str(layout.ports.alerts),
             "--store", str(layout.alerts_dir), "--token-file", str(tf)],
            cwd=PROJECT_DIR, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(layout).write_text(f"{proc.pid}\n")
    if not wait_for_port(layout.ports.alerts, 5):
        raise SandboxError(f"alert receiver did not start on port {layout.ports.alerts}; "
                           f"see {layout.alerts_dir / 'receiver.log'}")


def stop_receiver(layout: Layout, log: Callable[[str], None]) -> None:
    pid = _our_pid(layout)
    if pid:
        log("alert receiver: stopping")
        stop_pid(pid, timeout=3)
    _pid_file(layout).unlink(missing_ok=True)
