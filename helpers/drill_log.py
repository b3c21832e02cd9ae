"""The runbook's `rollback-drill.log`: lines `$(date): <what happened>`, appended.

The date is what `date` prints (C locale, UTC), so the suite's lines read like the ones people
append by hand from the runbook. Every line is redacted and kept to one line (a multi-line event
would break the one-event-per-line format that grep and the runbook rely on).
"""
from __future__ import annotations

import os
from pathlib import Path

from helpers.clock import REAL, Clock, date_utc
from helpers.redact import one_line

__all__ = ["DrillLog", "format_line"]


def format_line(event: str, clock: Clock = REAL) -> str:
    return f"{date_utc(clock.now())}: {one_line(event, limit=4000)}"


class DrillLog:
    def __init__(self, path: str | os.PathLike[str], clock: Clock = REAL) -> None:
        self.path = Path(path)
        self.clock = clock

    def write(self, event: str) -> str:
        """Append one line; returns it. One write() call on an O_APPEND file: lines from parallel
        writers do not interleave."""
        line = format_line(event, self.clock)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        return line

    def current_version(self, description: str) -> str:
        """The runbook's line at the start of a run: `当前版本 <images/versions>`."""
        return self.write(f"当前版本 {description}")
