"""The runbook's RTO table ("演练时间目标"): type, target, actual, status — one row per rollback type.

Exactly the runbook's five rows, in its order. Each row shows the drill of that type that decides
the verdict: a failed (or errored) one if there is any — the one that never recovered first, then
the slowest — otherwise the slowest passed one. The emergency drill is a full rollback
(`--type full --tag stable`), so it is judged in the full row, as its budget is.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from helpers.config import ROLLBACK_TYPES
from helpers.outcome import DrillOutcome
from helpers.report.labels import Labels
from helpers.report.markup import attr, badge, esc, short_id

__all__ = ["NEAR_BUDGET", "RUNBOOK_TARGETS_S", "RtoRow", "build_rows", "render", "row_type"]

# The runbook's table: image 5 min, nginx 2 min, database 10 min, upstream 1 min, full 15 min.
RUNBOOK_TARGETS_S: dict[str, float] = {"image": 300, "nginx": 120, "database": 600, "upstream": 60,
                                       "full": 900}
NEAR_BUDGET = 0.8  # an RTO above 80% of its target is "close": worth a suggestion
FAILING = ("failed", "error")


def row_type(drill_type: str) -> str:
    return "full" if drill_type == "emergency" else drill_type


@dataclass(frozen=True)
class RtoRow:
    type: str
    target_s: float | None
    actual_s: float | None
    status: str                 # passed | failed | error | skipped | not_run
    drill_id: str | None = None
    drills: int = 0
    rollback_ran: bool = False
    includes_emergency: bool = False

    @property
    def share(self) -> float | None:
        if self.actual_s is None or not self.target_s:
            return None
        return self.actual_s / self.target_s

    @property
    def near_budget(self) -> bool:
        share = self.share
        return share is not None and share > NEAR_BUDGET


def _decisive(items: list[tuple[DrillOutcome, str]]) -> tuple[DrillOutcome, str]:
    failing = [i for i in items if i[1] in FAILING]
    if failing:
        # never recovered first, then errors before failures, then the slowest
        return max(failing, key=lambda i: (i[0].rto_actual_s is None, i[1] == "error",
                                           i[0].rto_actual_s or 0.0))
    passed = [i for i in items if i[1] == "passed"]
    if passed:
        return max(passed, key=lambda i: i[0].rto_actual_s if i[0].rto_actual_s is not None else -1)
    return items[0]


def build_rows(outcomes: Iterable[tuple[DrillOutcome, str]],
               budgets: Mapping[str, float] | None = None) -> list[RtoRow]:
    by_type: dict[str, list[tuple[DrillOutcome, str]]] = {t: [] for t in ROLLBACK_TYPES}
    for outcome, status in outcomes:
        by_type.setdefault(row_type(outcome.type), []).append((outcome, status))
    rows = []
    for t in ROLLBACK_TYPES:
        items = by_type[t]
        default_target = (budgets or {}).get(t, RUNBOOK_TARGETS_S[t])
        if not items:
            rows.append(RtoRow(t, default_target, None, "not_run"))
            continue
        outcome, status = _decisive(items)
        rows.append(RtoRow(
            type=t, target_s=outcome.rto_target_s or default_target,
            actual_s=outcome.rto_actual_s, status=status, drill_id=outcome.id, drills=len(items),
            rollback_ran=outcome.command is not None or "rollback_start" in outcome.marks,
            includes_emergency=any(o.type == "emergency" for o, _ in items)))
    return rows


def _actual(row: RtoRow, L: Labels) -> str:
    if row.status in ("not_run", "skipped"):
        return L("none")
    if row.actual_s is None:
        return L("rto_not_recovered") if row.rollback_ran else L("rto_no_rollback")
    return L.duration(row.actual_s)


def _bar(row: RtoRow) -> str:
    """A thin bar under the actual time: how much of the target the RTO used (80% marked)."""
    share = row.share
    if share is None:
        return ""
    width = min(share, 1.0) * 100
    tone = "fail" if share > 1 else ("warn" if share > NEAR_BUDGET else "ok")
    return (f'<span class="ar-rtobar" aria-hidden="true"><span class="ar-rtobar-fill ar-{tone}" '
            f'style="width:{width:.1f}%"></span><span class="ar-rtobar-80"></span></span>')


def render(rows: list[RtoRow], L: Labels) -> str:
    head = "".join(f"<th scope=\"col\">{esc(L(k))}</th>" for k in
                   ("rto_col_type", "rto_col_target", "rto_col_actual", "rto_col_status",
                    "rto_col_drill"))
    body = []
    for row in rows:
        status_html = badge(row.status, L.status(row.status))
        if row.near_budget and row.status == "passed" and row.share is not None:  # near: a share
            status_html += " " + badge("warn", L("rto_near_budget", pct=round(row.share * 100)))
        drill = L("none")
        if row.drill_id:
            note = (L("rto_failed_of_type", n=row.drills) if row.status in FAILING and row.drills > 1
                    else L("rto_drills_of_type", n=row.drills) if row.drills > 1 else "")
            drill = f'<code title="{attr(row.drill_id)}">{esc(short_id(row.drill_id))}</code>'
            if note:
                drill += f' <span class="ar-muted">({esc(note)})</span>'
            if row.includes_emergency:
                drill += f'<br><span class="ar-muted">{esc(L("rto_folded"))}</span>'
        body.append(
            f'<tr class="ar-row-{attr(row.status)}" data-type="{attr(row.type)}" '
            f'data-status="{attr(row.status)}">'
            f'<th scope="row">{esc(L.drill_type(row.type))}</th>'
            f'<td class="ar-num">{esc(L.budget(row.target_s))}</td>'
            f'<td class="ar-num">{esc(_actual(row, L))}{_bar(row)}</td>'
            f'<td>{status_html}</td><td>{drill}</td></tr>')
    return (f'<table class="ar-table ar-rto" id="aura-rto-table"><caption>{esc(L("rto_heading"))}'
            f'</caption><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
