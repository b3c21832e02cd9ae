"""reports/history.jsonl: one line per run, read back for the RTO trend and regression flags.

A line is a JSON object: run_id (the run's start, ISO UTC), started_at, finished_at, target,
environment, and drills [{id, type, status, rto_actual_s, rto_target_s}]. Lines are appended with
one write() on an O_APPEND file (a killed run leaves whole lines or none); reading skips a line it
cannot parse rather than losing the whole history to it.

Regression flags, per drill type, against earlier runs of the same target:
- "slower": this run's RTO is more than 1.5 × the median of the last 5 recovered RTOs;
- "newly failing": the type passed in the previous run that drilled it and fails now.
"""
from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from helpers.clock import iso_utc
from helpers.outcome import DrillOutcome, RunContext
from helpers.redact import redact

__all__ = ["RECENT", "REGRESSION_FACTOR", "TrendRow", "append", "entry_for_run", "previous_runs", "read",
           "trend", "type_summary"]

REGRESSION_FACTOR = 1.5
RECENT = 5          # runs in the "recent median"
SHOWN = 12          # runs drawn in the trend picture
FAILING = ("failed", "error")
_STATUS_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}


def entry_for_run(run: RunContext, finished_at: datetime,
                  outcomes: Iterable[tuple[DrillOutcome, str]] | None = None) -> dict[str, Any]:
    items = list(run.outcomes if outcomes is None else outcomes)
    return {
        "run_id": iso_utc(run.started_at),
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(finished_at),
        "target": redact(run.target_name),
        "environment": run.environment,
        "drills": [{"id": o.id, "type": o.type,
                    "status": "error" if not o.restored else status,
                    "rto_actual_s": None if o.rto_actual_s is None else round(o.rto_actual_s, 3),
                    "rto_target_s": o.rto_target_s} for o, status in items],
    }


def append(path: str | os.PathLike[str], entry: dict[str, Any]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    return p


def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        return []
    entries = []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and isinstance(item.get("drills"), list):
            entries.append(item)
    return entries


def previous_runs(entries: Sequence[dict[str, Any]], current: dict[str, Any]) -> list[dict[str, Any]]:
    """Earlier runs of the same target, oldest first (the current run itself left out)."""
    return sorted((e for e in entries
                   if e.get("run_id") != current.get("run_id")
                   and e.get("target") == current.get("target")
                   and str(e.get("run_id", "")) < str(current.get("run_id", ""))),
                  key=lambda e: str(e.get("run_id", "")))


def type_summary(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per drill type in one run: the worst status and the slowest RTO."""
    out: dict[str, dict[str, Any]] = {}
    for d in entry.get("drills", []):
        t, status, rto = d.get("type"), d.get("status", "skipped"), d.get("rto_actual_s")
        if not t or status == "skipped":
            continue
        cur = out.setdefault(t, {"status": "passed", "rto_s": None})
        if _STATUS_RANK.get(status, 0) > _STATUS_RANK.get(cur["status"], 0):
            cur["status"] = status
        if isinstance(rto, (int, float)) and (cur["rto_s"] is None or rto > cur["rto_s"]):
            cur["rto_s"] = float(rto)
    return out


@dataclass(frozen=True)
class TrendRow:
    type: str
    points: tuple[tuple[str, float | None, str], ...]   # (run_id, rto or None, status), oldest first
    current_rto: float | None
    current_status: str
    median: float | None
    flags: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = field(default_factory=tuple)

    @property
    def regressed(self) -> bool:
        return bool(self.flags)


def trend(current: dict[str, Any], entries: Sequence[dict[str, Any]]) -> list[TrendRow]:
    now = type_summary(current)
    earlier = [(e["run_id"], type_summary(e)) for e in previous_runs(entries, current)]
    rows = []
    for t, cur in now.items():
        points = [(run_id, s[t]["rto_s"], s[t]["status"]) for run_id, s in earlier if t in s]
        recent = [rto for _, rto, _ in points if rto is not None][-RECENT:]
        median = statistics.median(recent) if recent else None
        flags: list[tuple[str, tuple[tuple[str, object], ...]]] = []
        rto = cur["rto_s"]
        if rto is not None and median and rto > REGRESSION_FACTOR * median:
            flags.append(("flag_slower", (("rto", rto), ("median", median),
                                          ("ratio", f"{rto / median:.1f}"))))
        if points and points[-1][2] == "passed" and cur["status"] in FAILING:
            flags.append(("flag_newly_failing", ()))
        rows.append(TrendRow(t, tuple(points[-SHOWN:]), rto, cur["status"], median, tuple(flags)))
    order = ["image", "nginx", "database", "upstream", "full", "emergency"]
    return sorted(rows, key=lambda r: order.index(r.type) if r.type in order else len(order))
