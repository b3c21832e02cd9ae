"""The runbook's drill report template (演练报告模板), filled in from one run.

Its four blocks, in its order and with its fields:
- 演练基本信息 basic information: date, type(s), participants, environment;
- 演练结果 results: execution time, success/failure, main problems, resolution time (each drill's
  RTO: the time from the rollback command's start to recovery);
- 改进建议 improvement suggestions: the four kinds (helpers.report.suggestions);
- 下次演练计划 next drill: one month on, type and focus from the weakest drill.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from helpers.outcome import DrillOutcome, RunContext
from helpers.report import suggestions as sg
from helpers.report.labels import Labels
from helpers.report.markup import attr, esc, short_id

__all__ = ["MAX_PROBLEMS", "fill", "render"]

MAX_PROBLEMS = 12


def _sep(L: Labels) -> str:
    return "、" if L.language == "zh" else ", "


def fill(run: RunContext, finished_at: datetime, L: Labels, participants: Sequence[str],
         suggestions: Sequence[sg.Suggestion]) -> dict[str, list[tuple[str, str]]]:
    """The template as {block label: [(field label, value HTML)]}, in the runbook's order."""
    items: list[tuple[DrillOutcome, str]] = list(run.outcomes)
    types: list[str] = []
    for o, _ in items:
        if o.type not in types:
            types.append(o.type)
    people = [p for p in (str(x).strip() for x in participants) if p]
    basic = [
        ("tpl_date", esc(f"{L.date(run.started_at)} ({L.timestamp(run.started_at)})")),
        ("tpl_types", esc(_sep(L).join(L.drill_type(t) for t in types)) or esc(L("none"))),
        ("tpl_participants", esc(_sep(L).join(people)) if people
         else f'<span class="ar-muted">{esc(L("tpl_no_participants"))}</span>'),
        ("tpl_environment", esc(L("tpl_env_value", target=run.target_name or "?",
                                  environment=run.environment or "?", url=run.base_url or "?"))),
    ]
    counts = {s: sum(1 for _, st in items if st == s) for s in ("passed", "failed", "error", "skipped")}
    total = len(items)
    command_s = sum(o.command.duration_s for o, _ in items if o.command is not None)
    run_s = max(0.0, (finished_at - run.started_at).total_seconds())
    if total and counts["passed"] == total:
        success = f'{_badge("passed")} {esc(L("tpl_success_all", total=total))}'
    elif total:
        success = f'{_badge("failed")} {esc(L("tpl_success_some", total=total, **counts))}'
    else:
        success = esc(L("verdict_none"))
    problems = [(o, p) for o, st in items for p in o.problems]
    run_notes = "".join(f"<li>{esc(n)}</li>" for n in run.notes)  # aborted, interrupted, recovered
    if problems or run_notes:
        lis = run_notes + "".join(f'<li><code title="{attr(o.id)}">{esc(short_id(o.id))}</code> {esc(p)}</li>'
                      for o, p in problems[:MAX_PROBLEMS])
        more = len(problems) - MAX_PROBLEMS
        if more > 0:
            lis += f'<li class="ar-muted">… +{more}</li>'
        problems_html = f'<ul class="ar-problems">{lis}</ul>'
    else:
        problems_html = esc(L("tpl_no_problems"))
    resolution = []
    for o, st in items:
        if st == "skipped":
            continue
        if o.rto_actual_s is not None:
            value = L.duration(o.rto_actual_s)
        elif o.command is not None:
            value = L("rto_not_recovered")
        else:
            value = L("rto_no_rollback")
        resolution.append(esc(L("tpl_resolution_value", drill=short_id(o.id), rto=value)))
    results = [
        ("tpl_exec_time", esc(L("tpl_exec_value", run=L.duration(run_s), commands=L.duration(command_s)))),
        ("tpl_success", success),
        ("tpl_problems", problems_html),
        ("tpl_resolution", "<br>".join(resolution) or esc(L("none"))),
    ]
    nxt = sg.next_drill(run.started_at, items)
    plan = [
        ("tpl_next_date", esc(L.date(nxt.date))),
        ("tpl_next_type", esc(L.drill_type(nxt.type))),
        ("tpl_next_focus", esc(nxt.focus(L))),
    ]
    return {"tpl_basic": basic, "tpl_results": results,
            "tpl_suggestions": [("", sg.render(suggestions, L, compact=True))],
            "tpl_next": plan}


def _badge(status: str) -> str:
    return f'<span class="ar-dot ar-{status}" aria-hidden="true"></span>'


def render(run: RunContext, finished_at: datetime, L: Labels, participants: Sequence[str],
           suggestions: Sequence[sg.Suggestion]) -> str:
    blocks = []
    for block, fields in fill(run, finished_at, L, participants, suggestions).items():
        if len(fields) == 1 and not fields[0][0]:
            inner = fields[0][1]
        else:
            inner = "<dl class=\"ar-fields\">" + "".join(
                f'<div data-field="{key}"><dt>{esc(L(key))}</dt><dd>{value}</dd></div>'
                for key, value in fields) + "</dl>"
        blocks.append(f'<section class="ar-tpl-block" data-block="{block}"><h3>{esc(L(block))}</h3>'
                      f'{inner}</section>')
    return f'<div class="ar-template" id="aura-template">{"".join(blocks)}</div>'
