"""The embedded sandbox, as the suite sees it: a command that prints a config path.

The suite never imports `sandbox/` (an examiner does not borrow the examinee's pen): it runs
`python -m sandbox up|down` in the project folder and reads what `up` prints on stdout:
`was-running: yes|no`, then the config path as the last line.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
UP_TIMEOUT_S = 600      # a cold start builds images; a hung one must still end
DOWN_TIMEOUT_S = 120


class SandboxStartError(RuntimeError):
    pass


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sandbox", *args]


@dataclass(frozen=True)
class SandboxUp:
    config: Path
    was_running: bool   # False: this `up` started it, and the run that asked stops it at the end


def up(progress: Callable[[str], None] = lambda line: None) -> SandboxUp:
    """Run `sandbox up`, passing each progress line on; returns the config path it printed and
    whether any of the sandbox already ran (no such line: assume it did, so nobody else's sandbox
    is ever stopped)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(_command("up"), cwd=PROJECT_DIR, text=True, stdout=out, stderr=subprocess.PIPE)
        lines: list[str] = []

        def relay() -> None:  # progress as it happens, on a thread, so the deadline below holds
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.append(line.rstrip())
                progress(line.rstrip())

        reader = threading.Thread(target=relay, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=UP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise SandboxStartError(f"sandbox up did not finish within {UP_TIMEOUT_S}s") from None
        reader.join(5)
        out.seek(0)
        printed = out.read().strip()
    if proc.returncode != 0:
        raise SandboxStartError(f"sandbox up failed: {lines[-1] if lines else f'exit {proc.returncode}'}")
    path = Path(printed.splitlines()[-1]) if printed else None
    if path is None or not path.is_absolute() or not path.exists():
        raise SandboxStartError(f"sandbox up printed no config path (stdout: {printed[-200:]!r})")
    return SandboxUp(path, was_running="was-running: no" not in printed.splitlines())


def down() -> None:
    subprocess.run(_command("down"), cwd=PROJECT_DIR, capture_output=True, text=True, timeout=DOWN_TIMEOUT_S)
