"""The audit log: one line per run, appended to `rollback-audit.log` next to the config file.

    2025-11-23T23:10:00+00:00 rollback type=image tag=v1.0.0 result=ok exit=0 duration_s=1.84 \
        target=aura-sandbox user=root reason="演练测试" detail="aura-api-v1: v2.0.0 -> v1.0.0"

Values with spaces are JSON-quoted (so newlines in a reason cannot forge a second line).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import json
import os
import re
from pathlib import Path

from .redaction import scrub

# fullmatch, never `$`: `$` also matches before a trailing "\n", which would let "x\n" through
# unquoted and split the line.
_PLAIN = re.compile(r"[A-Za-z0-9._:/@+-]+")


def _value(v: object) -> str:
    s = scrub("" if v is None else str(v))
    return s if _PLAIN.fullmatch(s) else json.dumps(s, ensure_ascii=False)


def format_line(tool: str, fields: dict[str, object], now: dt.datetime | None = None) -> str:
    when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    return " ".join([when, tool] + [f"{k}={_value(v)}" for k, v in fields.items()]) + "\n"


def append(log: Path, tool: str, fields: dict[str, object]) -> str | None:
    """Append one line; return a warning text instead of raising if the log cannot be written."""
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid())
    line = format_line(tool, {**fields, "user": user})
    try:
        with open(log, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(line)
    except OSError as exc:
        return f"warning: audit log {log} not written: {exc.strerror}"
    return None
