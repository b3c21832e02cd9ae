"""Improvement suggestions in the runbook's four kinds, and the next drill plan.

The runbook's template asks for 脚本优化 / 流程改进 / 文档更新 / 培训需求 (script, process,
documentation, training). They are derived from what this run showed, never invented:
- a rollback command that failed or timed out, a target that never recovered, lost writes, perf
  errors → script; also regressions against the history;
- a fault that was never observed, an unverified RPO, a failed restore, failed checklist items
  → process;
- a latent fault (the runbook's own nginx scenario: /healthz stays green, so its "verify the
  problem" step cannot confirm anything) → documentation;
- each failure mapped to the runbook's troubleshooting entry (问题 1/2/3) → training;
- an RTO above 80% of its target → script (make the path faster before it misses).
Each suggestion names its drill. The next drill is one month on (the runbook recommends a monthly
full drill); its type and focus come from this run's weakest drill.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from helpers.outcome import Check, DrillOutcome
from helpers.report.labels import Labels
from helpers.report.markup import esc, short_id
from helpers.report.rto_table import NEAR_BUDGET

__all__ = ["KINDS", "NextDrill", "Suggestion", "Weakness", "add_month", "derive", "next_drill", "render",
           "weakest"]

KINDS = ("script", "process", "documentation", "training")
FAILING = ("failed", "error")
# checklist items whose failure another rule already explains
_COVERED_ITEMS = {"rollback_succeeded", "system_status_ok", "fully_restored", "performance_ok"}


@dataclass(frozen=True)
class Suggestion:
    kind: str                          # KINDS
    key: str                           # a labels key
    fields: tuple[tuple[str, object], ...] = ()
    drill_id: str | None = None

    def text(self, L: Labels) -> str:
        f = dict(self.fields)
        if self.drill_id is not None:
            f.setdefault("drill", short_id(self.drill_id))
        if "type" in f:
            f["type_label"] = L.drill_type(str(f["type"]))
        for k in ("rto", "median"):
            value = f.get(k)
            if isinstance(value, (int, float)):
                f[k] = L.duration(float(value))
        budget = f.get("budget")
        if isinstance(budget, (int, float)):
            f["budget"] = L.budget(float(budget))
        if "p95" in f:
            f["p95"] = L.millis(f["p95"])
        if "how" in f:
            how = f["how"]
            f["how"] = L("how_timeout") if how == "timeout" else L("how_exit", code=how)
        if "issue" in f:
            f["issue"] = L(str(f["issue"]))
        if "item" in f:
            f["item"] = L.item(str(f["item"]))
        if "flag" in f and isinstance(f["flag"], tuple):
            key, sub = f["flag"]
            f["flag"] = Suggestion("script", key, tuple(sub)).text(L)
        return L(self.key, **f)


def _sg(kind: str, key: str, drill: DrillOutcome | None = None, **fields: object) -> Suggestion:
    return Suggestion(kind, key, tuple(fields.items()), drill.id if drill else None)


def rpo_unverified(outcome: DrillOutcome) -> bool:
    if not getattr(outcome, "rpo_measured", True):  # not measured on purpose ([rpo] enabled = false)
        return False
    if any("rpo unverified" in p.lower() for p in outcome.problems):
        return True
    return outcome.rto_actual_s is not None and not outcome.rpo_acknowledged


def _share(outcome: DrillOutcome) -> float | None:
    if outcome.rto_actual_s is None or not outcome.rto_target_s:
        return None
    return outcome.rto_actual_s / outcome.rto_target_s


def _issue(outcome: DrillOutcome, command_failed: bool) -> str:
    if outcome.type == "database":
        return "issue_3"
    return "issue_1" if command_failed else "issue_2"


def derive(outcomes: Iterable[tuple[DrillOutcome, str]], preflight: Sequence[Check] = (),
           regressions: Sequence[tuple[str, tuple[str, tuple[tuple[str, object], ...]]]] = ()
           ) -> list[Suggestion]:
    """All suggestions of a run, grouped by kind (in KINDS order), in drill order within a kind.

    `regressions` are (drill type, (flag label key, flag fields)) from the history.
    """
    out: list[Suggestion] = []
    trained: set[tuple[str, str]] = set()
    for check in preflight:
        if check.result == "fail":
            out.append(_sg("process", "sg_preflight_failed", item=check.item,
                           detail=check.detail or "—"))
    for o, status in outcomes:
        if status == "skipped":
            continue
        cmd = o.command
        command_failed = cmd is not None and not cmd.ok
        if cmd is not None and command_failed:
            out.append(_sg("script", "sg_command_failed", o, type=o.type,
                           how="timeout" if cmd.timed_out else cmd.exit_code))
        elif status in FAILING and cmd is not None and o.rto_actual_s is None:
            out.append(_sg("script", "sg_not_recovered", o, budget=o.rto_target_s,
                           version=o.expected_version or "?", pool=o.expected_pool or "?"))
        share = _share(o)
        if share is not None and share > NEAR_BUDGET:
            out.append(_sg("script", "sg_rto_close", o, rto=o.rto_actual_s, pct=round(share * 100),
                           budget=o.rto_target_s, type=o.type))
        if o.rpo_lost_writes:
            out.append(_sg("script", "sg_rpo_lost", o, lost=o.rpo_lost_writes,
                           ack=o.rpo_acknowledged if o.rpo_acknowledged is not None else "?",
                           type=o.type))
        perf_errors = (o.perf or {}).get("errors")
        if perf_errors:
            out.append(_sg("script", "sg_perf", o, errors=perf_errors, p95=(o.perf or {}).get("p95_ms")))
        if o.fault_observed == "none" and (o.fault_kind or any("fault not observed" in p.lower()
                                                               for p in o.problems)):
            out.append(_sg("process", "sg_fault_none", o))
        if rpo_unverified(o):
            out.append(_sg("process", "sg_rpo_unverified", o,
                           ack=o.rpo_acknowledged if o.rpo_acknowledged is not None else 0))
        if not o.restored:
            out.append(_sg("process", "sg_restore_failed", o, detail=o.restore_detail or "—"))
        for check in o.checks:
            if check.result == "fail" and check.item not in _COVERED_ITEMS:
                out.append(_sg("process", "sg_check_failed", o, item=check.item,
                               detail=check.detail or "—"))
        if o.fault_observed == "latent":
            out.append(_sg("documentation", "sg_latent", o, detail=o.fault_detail or o.fault_kind or "—"))
        if status in FAILING and (command_failed or o.rto_actual_s is None):
            issue = _issue(o, command_failed)
            if (issue, o.type) not in trained:
                trained.add((issue, o.type))
                out.append(_sg("training", "sg_training_issue", o, issue=issue))
    for drill_type, (flag_key, flag_fields) in regressions:
        out.append(_sg("script", "sg_regression", type=drill_type, flag=(flag_key, flag_fields)))
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(out, key=lambda s: order[s.kind])  # stable: drill order within a kind


# -- the weakest drill and the next drill -----------------------------------------------------

@dataclass(frozen=True)
class Weakness:
    outcome: DrillOutcome
    status: str
    reason_key: str
    fields: tuple[tuple[str, object], ...] = field(default_factory=tuple)
    serious: bool = True   # False: nothing went wrong, it is merely the slowest


def _rank(o: DrillOutcome, status: str) -> tuple:
    share = _share(o) or 0.0
    return (status == "error" or not o.restored, status in FAILING and o.rto_actual_s is None,
            status in FAILING, share > NEAR_BUDGET, rpo_unverified(o), o.fault_observed == "latent",
            share)


def weakest(outcomes: Iterable[tuple[DrillOutcome, str]]) -> Weakness | None:
    ran = [(o, s) for o, s in outcomes if s != "skipped"]
    if not ran:
        return None
    o, status = max(ran, key=lambda i: _rank(*i))
    share = _share(o)
    if status == "error" or not o.restored:
        return Weakness(o, status, "reason_error")
    if status in FAILING and o.rto_actual_s is None:
        return Weakness(o, status, "reason_not_recovered")
    if status in FAILING:
        reason = o.problems[0] if o.problems else None
        return Weakness(o, status, "reason_failed") if reason is None else \
            Weakness(o, status, "__text__", (("text", reason),))
    if share is not None and share > NEAR_BUDGET:
        return Weakness(o, status, "reason_close", (("pct", round(share * 100)),))
    if rpo_unverified(o):
        return Weakness(o, status, "reason_unverified")
    if o.fault_observed == "latent":
        return Weakness(o, status, "reason_latent")
    return Weakness(o, status, "reason_slowest", (("pct", round((share or 0) * 100)),), serious=False)


def add_month(moment: datetime) -> datetime:
    """Same day next month, clamped to that month's last day (Jan 31 → Feb 28/29)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class NextDrill:
    date: datetime
    type: str
    weakness: Weakness | None

    def focus(self, L: Labels) -> str:
        w = self.weakness
        if w is None or not w.serious:
            return L("next_focus_ok")
        reason = dict(w.fields)["text"] if w.reason_key == "__text__" else L(w.reason_key, **dict(w.fields))
        return L("next_focus_weak", drill=short_id(w.outcome.id), reason=reason)


def next_drill(started_at: datetime, outcomes: Iterable[tuple[DrillOutcome, str]]) -> NextDrill:
    w = weakest(outcomes)
    drill_type = w.outcome.type if (w is not None and w.serious) else "full"
    return NextDrill(add_month(started_at), drill_type, w)


def render(suggestions: Sequence[Suggestion], L: Labels, *, compact: bool = False) -> str:
    """A definition list by kind; every kind appears (with "no change needed" when empty)."""
    parts = []
    for kind in KINDS:
        items = [s for s in suggestions if s.kind == kind]
        if items:
            lis = "".join(f'<li data-drill="{esc(s.drill_id or "")}">{esc(s.text(L))}</li>' for s in items)
            body = f"<ul>{lis}</ul>"
        else:
            body = f'<span class="ar-muted">{esc(L("tpl_nothing"))}</span>'
        parts.append(f'<div class="ar-sg ar-sg-{kind}" data-kind="{kind}"><dt>{esc(L("kind_" + kind))}'
                     f'</dt><dd>{body}</dd></div>')
    cls = "ar-suggestions ar-compact" if compact else "ar-suggestions"
    return f'<dl class="{cls}">{"".join(parts)}</dl>'
