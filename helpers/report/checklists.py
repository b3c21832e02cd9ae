"""The runbook's three checklists (演练前 / 演练中 / 演练后检查) with each item's result.

Before the drill is the run's preflight (one column). During and after are per drill (one column
each) plus an overall column: fail if any drill failed it, pass if some passed and none failed,
not run otherwise. Items only people can check (team notified, team summary) are always shown as
"manual" with an empty box: software never ticks them, whatever a Check says.

Two after-drill items are about the report itself; when no drill recorded them they are derived
from it: "problems recorded" passes when every failed drill has at least one problem line, and
"suggestions clear" when every failed drill is named by at least one suggestion.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from helpers.outcome import CHECKLIST, MANUAL_ITEMS, Check, DrillOutcome
from helpers.report.labels import Labels
from helpers.report.markup import attr, esc
from helpers.report.suggestions import Suggestion

__all__ = ["SYMBOLS", "Cell", "Row", "build", "render"]

SYMBOLS = {"pass": "✓", "fail": "✗", "manual": "☐", "not_run": "–"}
FAILING = ("failed", "error")


@dataclass(frozen=True)
class Cell:
    result: str          # pass | fail | manual | not_run
    detail: str = ""
    derived: bool = False


@dataclass(frozen=True)
class Row:
    phase: str
    item: str
    overall: Cell
    cells: tuple[Cell, ...]   # before: one (the run); during/after: one per drill


def _cell(item: str, check: Check | None) -> Cell:
    if item in MANUAL_ITEMS:
        return Cell("manual", check.detail if check else "")
    if check is None:
        return Cell("not_run")
    result = "manual" if check.result == "manual" else check.result
    return Cell(result, check.detail)


def _overall(item: str, cells: Sequence[Cell]) -> Cell:
    if item in MANUAL_ITEMS:
        return Cell("manual")
    results = [c.result for c in cells]
    if "fail" in results:
        return Cell("fail", "; ".join(c.detail for c in cells if c.result == "fail" and c.detail))
    if "pass" in results:
        return Cell("pass", derived=any(c.derived for c in cells))
    return Cell("not_run")


def build(preflight: Sequence[Check], outcomes: Iterable[tuple[DrillOutcome, str]],
          suggestions: Sequence[Suggestion] = ()) -> list[Row]:
    items = list(outcomes)
    rows: list[Row] = []
    before = {c.item: c for c in preflight if c.phase == "before"}
    for item in CHECKLIST["before"]:
        cell = _cell(item, before.get(item))
        rows.append(Row("before", item, cell, (cell,)))
    named = {s.drill_id for s in suggestions if s.drill_id}
    for phase in ("during", "after"):
        for item in CHECKLIST[phase]:
            cells = []
            for o, status in items:
                by_item = {c.item: c for c in o.checks if c.phase == phase}
                cell = _cell(item, by_item.get(item))
                if cell.result == "not_run" and status != "skipped" and item == "problems_recorded":
                    ok = status not in FAILING or bool(o.problems)
                    cell = Cell("pass" if ok else "fail", "" if ok else "no problem line", derived=True)
                if cell.result == "not_run" and status != "skipped" and item == "suggestions_clear":
                    ok = status not in FAILING or o.id in named
                    cell = Cell("pass" if ok else "fail", "" if ok else "no suggestion", derived=True)
                cells.append(cell)
            rows.append(Row(phase, item, _overall(item, cells), tuple(cells)))
    return rows


def _td(cell: Cell, L: Labels) -> str:
    label = L("check_" + cell.result)
    tip = label + (f" — {cell.detail}" if cell.detail else "") + (f" ({L('cl_derived')})" if cell.derived else "")
    return (f'<td class="ar-check ar-check-{cell.result}" data-result="{cell.result}" title="{attr(tip)}">'
            f'<span aria-hidden="true">{SYMBOLS[cell.result]}</span>'
            f'<span class="ar-sr">{esc(label)}</span></td>')


def _columns(drills: Sequence[tuple[str, str]], L: Labels) -> list[tuple[str, str]]:
    """(header, tooltip) per drill: the type's label, numbered when a type repeats."""
    seen: dict[str, int] = {}
    for _, t in drills:
        seen[t] = seen.get(t, 0) + 1
    count: dict[str, int] = {}
    out = []
    for drill_id, t in drills:
        count[t] = count.get(t, 0) + 1
        label = L.drill_type(t) + (f" {count[t]}" if seen[t] > 1 else "")
        out.append((label, drill_id))
    return out


def render(rows: Sequence[Row], drills: Sequence[tuple[str, str]], L: Labels) -> str:
    """`drills`: (drill id, drill type) in the order of the rows' cells."""
    out = []
    for phase in ("before", "during", "after"):
        phase_rows = [r for r in rows if r.phase == phase]
        cols = [(L("cl_run"), "")] if phase == "before" else [(L("cl_overall"), ""), *_columns(drills, L)]
        head = f'<th scope="col">{esc(L("cl_item"))}</th>' + "".join(
            f'<th scope="col" class="ar-check-col" title="{attr(tip)}">{esc(c)}</th>' for c, tip in cols)
        body = []
        for r in phase_rows:
            cells = [r.overall] if phase == "before" else [r.overall, *r.cells]
            detail = r.overall.detail if r.overall.result == "fail" else ""
            detail_html = f'<div class="ar-check-detail">{esc(detail)}</div>' if detail else ""
            manual = ' <span class="ar-manual-tag">' + esc(L("check_manual")) + "</span>" \
                if r.overall.result == "manual" else ""
            body.append(f'<tr data-item="{r.item}" data-result="{r.overall.result}">'
                        f'<th scope="row">{esc(L.item(r.item))}{manual}{detail_html}</th>'
                        + "".join(_td(c, L) for c in cells) + "</tr>")
        out.append(f'<table class="ar-table ar-checklist" data-phase="{phase}"><caption>'
                   f'{esc(L("phase_" + phase))}</caption><thead><tr>{head}</tr></thead>'
                   f'<tbody>{"".join(body)}</tbody></table>')
    note = f'<p class="ar-muted ar-note">{esc(L("cl_manual_note"))}</p>'
    return f'<div class="ar-checklists">{"".join(out)}</div>{note}'
