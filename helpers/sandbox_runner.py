"""The embedded sandbox, as the suite sees it: a command that prints a config path.

The suite never imports `sandbox/` (an examiner does not borrow the examinee's pen): it runs
`python -m sandbox up|status|down` in the project folder and reads the last line `up` prints.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
UP_TIMEOUT_S = 600  # a cold start builds images; a hung one must still end


class SandboxStartError(RuntimeError):
    pass


def is_up() -> bool:
    """True when the sandbox answers healthy and at baseline (then this run did not start it)."""
    r = subprocess.run([sys.executable, "-m", "sandbox", "status"], cwd=PROJECT_DIR,
                       capture_output=True, text=True, timeout=60)
    return r.returncode == 0


def up(progress: Callable[[str], None] = lambda line: None) -> Path:
    """Run `sandbox up`, passing each progress line on; returns the config path it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "up"], cwd=PROJECT_DIR, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:  # progress, as it happens
        lines.append(line.rstrip())
        progress(line.rstrip())
    try:
        out, _ = proc.communicate(timeout=UP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SandboxStartError(f"sandbox up did not finish within {UP_TIMEOUT_S}s") from None
    if proc.returncode != 0:
        last = lines[-1] if lines else f"exit {proc.returncode}"
        raise SandboxStartError(f"sandbox up failed: {last}")
    path = Path(out.strip().splitlines()[-1]) if out.strip() else None
    if path is None or not path.is_absolute() or not path.exists():
        raise SandboxStartError(f"sandbox up printed no config path (stdout: {out.strip()[-200:]!r})")
    return path


def down() -> None:
    subprocess.run([sys.executable, "-m", "sandbox", "down"], cwd=PROJECT_DIR, capture_output=True,
                   text=True, timeout=120)
