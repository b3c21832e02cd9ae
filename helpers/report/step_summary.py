"""The runbook's RTO table as Markdown, from a run's drill-results.json: for a CI job's summary
page (GitHub's `$GITHUB_STEP_SUMMARY`), written even when drills failed.

    .venv/bin/python -m helpers.report.step_summary reports/drill-results.json >> "$GITHUB_STEP_SUMMARY"

The rows are the HTML report's (helpers/report/rto_table.py: one per rollback type, the failed or
else the slowest drill of that type), rebuilt from the results file alone: the summary step runs
after the drill step, in another process, and must not need the run itself. A missing or
unreadable results file is one line in the summary, never a failed step: the drill step already
failed the job, and the summary says why there is no table.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.outcome import DrillOutcome
from helpers.redact import one_line
from helpers.report.rto_table import RtoRow, build_rows

__all__ = ["main", "markdown", "outcomes_of"]

STATUS_MARK = {"passed": "✅ passed", "failed": "❌ failed", "error": "❌ error", "skipped": "⏭ skipped",
               "not_run": "— not run"}


def outcomes_of(results: Mapping[str, Any]) -> list[tuple[DrillOutcome, str]]:
    out = []
    for d in results.get("drills", []):
        o = DrillOutcome(id=str(d["id"]), type=str(d["type"]), rto_target_s=float(d["rto_target_s"]),
                         rto_actual_s=d.get("rto_actual_s"))
        if d.get("command_exit") is not None:
            o.marks["rollback_start"] = 0.0  # the rollback ran (an RTO of "never" differs from "no rollback")
        out.append((o, str(d["status"])))
    return out


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _actual(row: RtoRow) -> str:
    if row.status in ("not_run", "skipped"):
        return "—"
    if row.actual_s is None:
        return "not recovered" if row.rollback_ran else "no rollback ran"
    return _seconds(row.actual_s)


def markdown(results: Mapping[str, Any]) -> str:
    rows = build_rows(outcomes_of(results))
    drills: Sequence[Mapping[str, Any]] = results.get("drills", [])
    failed = [d for d in drills if d.get("status") in ("failed", "error")]
    target = results.get("target") or {}
    lines = [f"## Rollback drill: {target.get('name', '?')} ({target.get('environment', '?')})", "",
             f"{len(drills)} drill(s), {len(failed)} failed; {results.get('started_at', '?')} → "
             f"{results.get('finished_at', '?')}", "",
             "| type | RTO target | actual | status |", "| --- | ---: | ---: | --- |"]
    for row in rows:
        status = STATUS_MARK.get(row.status, row.status)
        lines.append(f"| {row.type} | {_seconds(row.target_s)} | {_actual(row)} | {status} |")
    for d in failed:
        first = (d.get("problems") or ["(no problem recorded)"])[0]
        lines.append(f"\n- `{d['id']}`: {one_line(first, limit=300).replace('|', '/')}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m helpers.report.step_summary DRILL-RESULTS.json", file=sys.stderr)
        return 2
    path = Path(args[0])
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        text = markdown(results)
    except (OSError, ValueError, KeyError, TypeError) as e:
        text = (f"## Rollback drill\n\nNo RTO table: {path} could not be read "
                f"({one_line(f'{type(e).__name__}: {e}', limit=200)}); the run stopped before any drill.\n")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
