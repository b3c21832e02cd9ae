"""Assembling the drill report: the summary at the top, one section per drill, a stylesheet.

`summary_html` is what the pytest-html summary hook puts at the top of reports/drill-report.html:
a verdict ("could we roll back tonight?"), the runbook's RTO table, the filled report template
(with the improvement suggestions and the next drill), the three checklists and the RTO trend. It
carries the stylesheet for the whole page, including the per-drill sections that `drill_html`
renders for each test's extras. `document` puts both in one standalone HTML page (the browser
test opens it; it also serves anyone who wants the report without pytest-html's table).

Everything here is a pure function of a RunContext, the drills' outcomes and the history lines.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from helpers.outcome import MANUAL_ITEMS, DrillOutcome, RunContext
from helpers.probe import summarize
from helpers.report import checklists, history, rto_table, suggestions, template, timeline_svg, trend_svg
from helpers.report.labels import Labels
from helpers.report.markup import attr, badge, esc, short_id, tail_lines

__all__ = ["CSS", "Parts", "build", "document", "drill_anchor", "drill_html", "summary_html"]

FAILING = ("failed", "error")

CSS = """
.aura-report, .aura-drill { --ok:#1d7a58; --ok-bg:#e3f4ec; --fail:#b8323f; --fail-bg:#fbe7e9;
  --warn:#9a5b00; --warn-bg:#fdf1dc; --err:#7b2d8b; --err-bg:#f3e6f6; --muted:#5b6573;
  --line:#dde2e8; --ink:#1c2430; --soft:#f6f8fa; --accent:#1f4e8c;
  color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial,
  "WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
.aura-report { max-width: 1180px; margin: 0 0 28px; }
.aura-report h2 { font-size: 19px; margin: 30px 0 10px; color: var(--ink); letter-spacing: .01em; }
.aura-report h2 .ar-h-en { color: var(--muted); font-weight: 400; font-size: 13px; margin-left: 8px; }
.aura-report h3 { font-size: 15px; margin: 0 0 8px; color: var(--ink); }
.aura-report code, .aura-drill code { font: 12.5px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; }
.ar-muted { color: var(--muted); }
.ar-sr { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
.ar-hero { border-radius: 10px; padding: 18px 22px; margin: 6px 0 8px; border: 1px solid var(--line);
  background: linear-gradient(100deg, var(--soft), #fff); border-left: 8px solid var(--muted); }
.ar-hero.ar-hero-ok { border-left-color: var(--ok); background: linear-gradient(100deg, var(--ok-bg), #fff 70%); }
.ar-hero.ar-hero-fail { border-left-color: var(--fail); background: linear-gradient(100deg, var(--fail-bg), #fff 70%); }
.ar-eyebrow { margin: 0; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .08em; }
.ar-hero h2 { margin: 4px 0 2px; font-size: 22px; }
.ar-verdict { margin: 0 0 10px; font-size: 16px; font-weight: 600; }
.ar-hero-ok .ar-verdict { color: var(--ok); } .ar-hero-fail .ar-verdict { color: var(--fail); }
.ar-pills { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0 4px; padding: 0; list-style: none; }
.ar-pills li { background:#fff; border:1px solid var(--line); border-radius: 999px;
  padding: 2px 10px 2px 8px; font-size: 13px; }
.ar-pills li a { color: inherit; text-decoration: none; }
.ar-dot { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:6px;
  background:var(--muted); vertical-align: 0; }
.ar-dot.ar-passed { background: var(--ok); } .ar-dot.ar-failed { background: var(--fail); }
.ar-dot.ar-error { background: var(--err); } .ar-dot.ar-skipped { background: #aab3bf; }
.ar-toc { display:flex; flex-wrap:wrap; gap: 4px 16px; font-size: 13px; margin: 4px 0 0; }
.ar-toc a { color: var(--accent); text-decoration: none; } .ar-toc a:hover { text-decoration: underline; }
.ar-meta { margin: 0; color: var(--muted); font-size: 12.5px; }
.ar-table { border-collapse: separate; border-spacing: 0; width: 100%; background: #fff;
  border: 1px solid var(--line); border-radius: 8px; overflow: hidden; margin: 0 0 6px; font-size: 13.5px; }
.ar-table caption { text-align: left; font-weight: 600; padding: 0 0 6px; color: var(--ink); }
.ar-table th, .ar-table td { padding: 8px 12px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: middle; }
.ar-table thead th { background: var(--soft); color: var(--muted); font-weight: 600; font-size: 12.5px; }
.ar-table tbody tr:last-child > * { border-bottom: 0; }
.ar-table tbody th { font-weight: 600; color: var(--ink); }
.ar-num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.ar-rto caption { display:none; }
.ar-rto tr.ar-row-failed > th:first-child,
.ar-rto tr.ar-row-error > th:first-child { box-shadow: inset 4px 0 0 var(--fail); }
.ar-rto tr.ar-row-passed > th:first-child { box-shadow: inset 4px 0 0 var(--ok); }
.ar-rto tr.ar-row-not_run, .ar-rto tr.ar-row-skipped { color: var(--muted); }
.ar-rtobar { display:block; position:relative; height:4px; width:120px; background:#e9edf1;
  border-radius:2px; margin-top:5px; }
.ar-rtobar-fill { position:absolute; left:0; top:0; bottom:0; border-radius:2px; }
.ar-rtobar-fill.ar-ok { background: var(--ok); } .ar-rtobar-fill.ar-warn { background: #e8a33d; }
.ar-rtobar-fill.ar-fail { background: var(--fail); }
.ar-rtobar-80 { position:absolute; left:80%; top:-2px; bottom:-2px; width:1px; background:#8a94a3; }
.ar-badge { display:inline-block; border-radius: 999px; padding: 1px 9px; font-size: 12px; font-weight: 600;
  border: 1px solid transparent; white-space: nowrap; }
.ar-badge.ar-passed, .ar-badge.ar-pass { color: var(--ok); background: var(--ok-bg); }
.ar-badge.ar-failed, .ar-badge.ar-fail { color: var(--fail); background: var(--fail-bg); }
.ar-badge.ar-error { color: var(--err); background: var(--err-bg); }
.ar-badge.ar-skipped, .ar-badge.ar-not_run { color: var(--muted); background: #fff; border-color: var(--line); }
.ar-badge.ar-warn { color: var(--warn); background: var(--warn-bg); }
.ar-template { display:grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
.ar-tpl-block { background:#fff; border:1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.ar-tpl-block[data-block="tpl_suggestions"], .ar-tpl-block[data-block="tpl_next"] { grid-column: 1 / -1; }
.ar-fields { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 6px 14px; }
.ar-fields > div { display: contents; }
.ar-fields dt { color: var(--muted); font-size: 13px; }
.ar-fields dd { margin: 0; }
.ar-problems { margin: 0; padding-left: 18px; } .ar-problems li { margin: 2px 0; }
.ar-suggestions { margin: 0; display:grid; grid-template-columns: repeat(2, minmax(0,1fr)); gap: 10px 18px; }
.ar-sg { border-left: 3px solid var(--line); padding: 2px 0 2px 12px; }
.ar-sg dt { font-weight: 600; font-size: 13px; margin-bottom: 2px; }
.ar-sg dd { margin: 0; } .ar-sg ul { margin: 0; padding-left: 18px; } .ar-sg li { margin: 3px 0; }
.ar-sg-script { border-left-color: #1f4e8c; } .ar-sg-process { border-left-color: #e8a33d; }
.ar-sg-documentation { border-left-color: #3d8fa8; } .ar-sg-training { border-left-color: #7b2d8b; }
.ar-checklists { display:flex; flex-wrap: wrap; gap: 14px 18px; align-items: flex-start; }
.ar-checklists .ar-table { width: auto; min-width: 300px; margin: 0; }
.ar-checklist th[scope="row"] { font-weight: 500; }
.ar-check { text-align:center !important; width: 1%; white-space: nowrap; font-size: 15px; }
.ar-check-col { text-align:center !important; font-size: 11.5px !important; white-space: nowrap; }
.ar-check-pass { color: var(--ok); } .ar-check-fail { color: var(--fail); background: var(--fail-bg); font-weight:700; }
.ar-check-manual { color: var(--accent); } .ar-check-not_run { color: #aab3bf; }
.ar-manual-tag { display:inline-block; font-size: 11px; font-weight: 500; color: var(--accent);
  border: 1px dashed var(--accent); border-radius: 4px; padding: 0 5px; margin-left: 4px; }
.ar-check-detail { font-weight: 400; font-size: 12px; color: var(--fail); }
.ar-note { font-size: 12.5px; margin: 6px 0 0; }
.ar-trend-table td { vertical-align: middle; }
.ar-flag { color: var(--fail); font-weight: 600; }
.ar-results-heading { margin-top: 34px !important; }
/* one drill */
.aura-drill { background:#fff; border:1px solid var(--line); border-radius: 10px; padding: 16px 18px;
  margin: 6px 0 12px;
  border-top: 5px solid var(--muted); }
.aura-drill.ar-drill-passed { border-top-color: var(--ok); }
.aura-drill.ar-drill-failed { border-top-color: var(--fail); }
.aura-drill.ar-drill-error { border-top-color: var(--err); }
.ar-drill-head { display:flex; flex-wrap: wrap; align-items: baseline; gap: 6px 12px; margin-bottom: 8px; }
.ar-drill-head h3 { margin: 0; font-size: 16px; }
.ar-drill-rto { margin-left: auto; font-size: 13px; color: var(--muted); }
.ar-drill-rto strong { font-size: 18px; color: var(--ink); font-variant-numeric: tabular-nums; }
.aura-drill figure { margin: 6px 0 10px; }
.aura-drill figcaption, .ar-sub { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .06em; margin: 10px 0 4px; font-weight: 600; }
.ar-timeline { display:block; max-width: 100%; height: auto; }
.ar-tl-tick, .ar-tl-legend { fill: #5b6573; } .ar-tl-mark { font-weight: 600; } .ar-tl-empty { fill:#5b6573; }
.ar-facts { display:grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 8px; margin: 0; }
.ar-facts > div { background: var(--soft); border-radius: 6px; padding: 7px 10px; }
.ar-facts dt { font-size: 11.5px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
.ar-facts dd { margin: 2px 0 0; font-size: 13.5px; }
.ar-facts .ar-bad dd { color: var(--fail); font-weight: 600; }
.ar-cmd { font: 12.5px/1.45 ui-monospace, Menlo, Consolas, monospace; background: #1c2430; color: #e6edf3;
  border-radius: 6px; padding: 8px 12px; margin: 0; white-space: pre-wrap; word-break: break-all; }
.ar-cmd .ar-prompt { color: #7ee2b8; user-select: none; }
.aura-drill details { margin: 6px 0; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.aura-drill details > summary { cursor: pointer; padding: 5px 10px; font-size: 13px; color: var(--ink); }
.aura-drill details[open] > summary { border-bottom: 1px solid var(--line); }
.aura-drill pre.ar-out { margin: 0; padding: 8px 10px; max-height: 320px; overflow: auto;
  font: 12px/1.45 ui-monospace, Menlo, Consolas, monospace;
  white-space: pre-wrap; word-break: break-word; color: var(--ink); background: var(--soft); }
.ar-attachments details > summary { color: var(--fail); font-weight: 600; }
.ar-chips { display:flex; flex-wrap: wrap; gap: 6px; margin: 0; padding: 0; list-style: none; }
.ar-chips li { font-size: 12.5px; border: 1px solid var(--line); border-radius: 999px; padding: 1px 9px;
  background: #fff; }
.ar-chips li.ar-check-fail { border-color: var(--fail); } .ar-chips li.ar-check-pass { border-color: #bfe3d2; }
.ar-chips li.ar-check-manual { border-style: dashed; border-color: var(--accent); }
.ar-drill-problems { margin: 0; padding-left: 18px; color: var(--fail); }
@media (max-width: 900px) { .ar-template, .ar-suggestions { grid-template-columns: 1fr; } }
/* pytest-html's page: our summary first, its results table next, the environment table last */
body:has(.aura-report) { display: flex; flex-direction: column; color: #5b6573; padding: 0 16px 24px; }
body:has(.aura-report) > #title { order: -3; margin-bottom: 0; }
body:has(.aura-report) > p:first-of-type { order: -2; }
body:has(.aura-report) > .summary { order: -1; }
body:has(.aura-report) > #environment-header, body:has(.aura-report) > #environment { order: 1; }
body:has(.aura-report) > #environment { align-self: flex-start; }
.summary__data:has(.aura-report) > h2:first-child { display: none; }
.extraHTML .aura-drill { max-width: 1180px; }
/* standalone document */
body.ar-standalone { margin: 24px 32px; background: #fbfcfd; }
body.ar-standalone > h1 { font: 600 24px/1.3 system-ui, sans-serif; color: #1c2430; margin: 0 0 4px; }
"""


def drill_anchor(drill_id: str) -> str:
    return "drill-" + re.sub(r"[^A-Za-z0-9_-]+", "-", drill_id).strip("-")


class Parts:
    """Everything derived from one run, computed once and shared by the summary's sections."""

    def __init__(self, run: RunContext, *, finished_at: datetime, language: object = None,
                 participants: Sequence[str] | None = None,
                 history_entries: Sequence[Mapping[str, Any]] = (),
                 budgets: Mapping[str, float] | None = None) -> None:
        self.run = run
        self.finished_at = finished_at
        self.L = Labels(language if language else run.language)
        self.participants = list(participants) if participants else list(run.participants)
        self.outcomes: list[tuple[DrillOutcome, str]] = [
            (o, "error" if not o.restored and s != "skipped" else s) for o, s in run.outcomes]
        self.rows = rto_table.build_rows(self.outcomes, budgets)
        self.entry = history.entry_for_run(run, finished_at, self.outcomes)
        self.trend = history.trend(self.entry, [dict(e) for e in history_entries])
        regressions = [(r.type, flag) for r in self.trend for flag in r.flags]
        self.suggestions = suggestions.derive(self.outcomes, run.preflight, regressions)
        self.checklist = checklists.build(run.preflight, self.outcomes, self.suggestions)

    @property
    def failing(self) -> list[tuple[DrillOutcome, str]]:
        return [(o, s) for o, s in self.outcomes if s in FAILING]


def build(run: RunContext, **kwargs: Any) -> Parts:
    return Parts(run, **kwargs)


def _section(anchor: str, title: str, inner: str) -> str:
    return f'<section class="ar-section" id="{anchor}"><h2>{esc(title)}</h2>{inner}</section>'


def _hero(p: Parts) -> str:
    L, run = p.L, p.run
    total = len(p.outcomes)
    skipped = [o for o, s in p.outcomes if s == "skipped"]
    if not total:
        verdict, tone = L("verdict_none"), "none"
    elif p.failing:
        names = ("、" if L.language == "zh" else ", ").join(short_id(o.id) for o, _ in p.failing)
        verdict, tone = L("verdict_no", failed=len(p.failing), total=total, names=names), "fail"
    elif skipped:
        verdict, tone = L("verdict_partial", skipped=len(skipped), total=total), "none"
    else:
        verdict, tone = L("verdict_yes"), "ok"
    pills = "".join(
        f'<li><a href="#{drill_anchor(o.id)}"><span class="ar-dot ar-{s}" aria-hidden="true"></span>'
        f'{esc(short_id(o.id))} · {esc(L.status(s))}'
        + (f' · {esc(L.duration(o.rto_actual_s))}' if o.rto_actual_s is not None else "")
        + "</a></li>" for o, s in p.outcomes)
    meta = L("generated", started=L.timestamp(run.started_at), finished=L.timestamp(p.finished_at),
             target=run.target_name or "?", environment=run.environment or "?")
    toc = "".join(f'<a href="#{a}">{esc(L(k))}</a>' for a, k in (
        ("aura-rto", "rto_heading"), ("aura-report-template", "tpl_heading"),
        ("aura-checklists", "cl_heading"), ("aura-trend-section", "trend_heading"),
        ("aura-drills", "drills_heading")))
    return (f'<header class="ar-hero ar-hero-{tone}" data-verdict="{tone}">'
            f'<p class="ar-eyebrow">{esc(L("page_heading"))} · {esc(run.target_name)}</p>'
            f'<h2>{esc(L("verdict_question"))}</h2><p class="ar-verdict">{esc(verdict)}</p>'
            + (f'<ul class="ar-notes">{"".join(f"<li>{esc(n)}</li>" for n in run.notes)}</ul>' if run.notes else "")
            + f'<ul class="ar-pills">{pills}</ul><p class="ar-meta">{esc(meta)}</p>'
            f'<nav class="ar-toc" aria-label="{attr(L("toc"))}">{toc}</nav></header>')


def summary_html(run: RunContext, **kwargs: Any) -> str:
    return _summary(Parts(run, **kwargs))


def _summary(p: Parts) -> str:
    L = p.L
    drills = [(o.id, o.type) for o, _ in p.outcomes]
    body = [
        f"<style>{CSS}</style>",
        _hero(p),
        _section("aura-rto", L("rto_heading"), rto_table.render(p.rows, L)),
        _section("aura-report-template", L("tpl_heading"),
                 template.render(p.run, p.finished_at, L, p.participants, p.suggestions)),
        _section("aura-checklists", L("cl_heading"), checklists.render(p.checklist, drills, L)),
        _section("aura-trend-section", L("trend_heading"), trend_svg.render_table(p.trend, L)),
        f'<h2 class="ar-results-heading" id="aura-drills">{esc(L("drills_heading"))}</h2>',
    ]
    lang = "zh-CN" if L.language == "zh" else "en"
    return f'<div class="aura-report" lang="{lang}" data-language="{L.language}">{"".join(body)}</div>'


# -- one drill -----------------------------------------------------------------------------------

def _pre(text: str | None, L: Labels) -> str:
    if not text:
        return f'<pre class="ar-out ar-muted">{esc(L("output_empty"))}</pre>'
    kept, cut = tail_lines(text)
    head = f'{esc(L("output_cut", n=cut))}\n' if cut else ""
    return f'<pre class="ar-out">{head}{esc(kept)}</pre>'


def _details(title: str, text: str | None, L: Labels, *, open_: bool) -> str:
    n = len(text.splitlines()) if text else 0
    return (f'<details{" open" if open_ else ""}><summary>{esc(title)} '
            f'<span class="ar-muted">({n})</span></summary>{_pre(text, L)}</details>')


def _fact(label: str, value: str, bad: bool = False) -> str:
    return f'<div class="{"ar-bad" if bad else ""}"><dt>{esc(label)}</dt><dd>{value}</dd></div>'


def drill_html(outcome: DrillOutcome, status: str, language: object = "en") -> str:
    L = language if isinstance(language, Labels) else Labels(language)
    o = outcome
    if not o.restored and status != "skipped":
        status = "error"
    failing = status in FAILING
    rto = (f'<strong>{esc(L.duration(o.rto_actual_s))}</strong>' if o.rto_actual_s is not None
           else f'<strong>{esc(L("rto_not_recovered") if o.command else L("rto_no_rollback"))}</strong>')
    head = (f'<div class="ar-drill-head"><h3>{esc(L.drill_type(o.type))}</h3>'
            f'<code title="{attr(o.id)}">{esc(short_id(o.id))}</code>{badge(status, L.status(status))}'
            f'<span class="ar-drill-rto">{esc(L("drill_rto"))} {rto} · '
            f'{esc(L("drill_budget", budget=L.budget(o.rto_target_s)))}</span></div>')
    timeline = (f'<figure><figcaption>{esc(L("drill_timeline"))}</figcaption>'
                f'{timeline_svg.render(o, L)}</figure>')
    summary = summarize(o.samples)
    facts = [
        _fact(L("fact_fault"), esc(o.fault_kind or L("none")) +
              (f'<br><span class="ar-muted">{esc(o.fault_detail)}</span>' if o.fault_detail else "")),
        _fact(L("fact_observed"), esc(L("observed_" + (o.fault_observed if o.fault_observed in
                                                         ("visible", "latent", "none") else "none"))),
              bad=o.fault_observed == "none" and bool(o.fault_kind)),
        _fact(L("fact_expected"), esc(L("fact_expected_value", version=o.expected_version or "?",
                                        pool=o.expected_pool or "?"))),
        _fact(L("fact_probe"), esc(L("fact_probe_value", requests=summary.requests,
                                     failures=summary.failures,
                                     outage=L.duration(summary.longest_outage_s)))),
    ]
    if not getattr(o, "rpo_measured", True):
        rpo, rpo_bad = L("fact_rpo_not_measured"), bool(o.rpo_lost_writes)
    elif o.rpo_acknowledged is None and o.rpo_lost_writes is None:
        rpo, rpo_bad = L("fact_rpo_unverified"), bool(o.command)
    else:
        rpo = L("fact_rpo_value", ack=o.rpo_acknowledged if o.rpo_acknowledged is not None else "?",
                lost=o.rpo_lost_writes if o.rpo_lost_writes is not None else "?")
        rpo_bad = bool(o.rpo_lost_writes) or not o.rpo_acknowledged
        if not o.rpo_acknowledged:
            rpo += f" — {L('fact_rpo_unverified')}"
    facts.append(_fact(L("fact_rpo"), esc(rpo), bad=rpo_bad))
    if o.perf:
        pf = o.perf
        facts.append(_fact(L("fact_perf"), esc(L(
            "fact_perf_value", requests=pf.get("requests", "?"), errors=pf.get("errors", "?"),
            p50=L.millis(pf.get("p50_ms")), p95=L.millis(pf.get("p95_ms")), max=L.millis(pf.get("max_ms")))),
            bad=bool(pf.get("errors"))))
    restore = L("fact_restored_ok") if o.restored else L("fact_restored_bad")
    if o.restore_detail:
        restore += f" — {o.restore_detail}"
    facts.append(_fact(L("fact_restore"), esc(restore), bad=not o.restored))
    parts = [head, timeline, f'<dl class="ar-facts">{"".join(facts)}</dl>']
    cmd = o.command
    if cmd is not None:
        how = L("how_timeout") if cmd.timed_out else L("how_exit", code=cmd.exit_code)
        parts.append(f'<div class="ar-sub">{esc(L("drill_command"))} · '
                     f'{esc(L("fact_command_value", how=how, duration=L.duration(cmd.duration_s)))}</div>'
                     f'<pre class="ar-cmd"><span class="ar-prompt">$ </span>{esc(cmd.display)}</pre>')
        parts.append(_details(L("drill_stdout"), cmd.stdout, L, open_=failing and bool(cmd.stdout)))
        parts.append(_details(L("drill_stderr"), cmd.stderr, L, open_=failing and bool(cmd.stderr)))
    if o.problems:
        parts.append(f'<div class="ar-sub">{esc(L("drill_problems"))}</div><ul class="ar-drill-problems">'
                     + "".join(f"<li>{esc(p)}</li>" for p in o.problems) + "</ul>")
    if o.checks:
        chips = []
        for c in o.checks:
            result = "manual" if c.item in MANUAL_ITEMS else c.result
            sym = checklists.SYMBOLS.get(result, "?")
            tip = L("check_" + result) + (f" — {c.detail}" if c.detail else "")
            chips.append(f'<li class="ar-check-{result}" data-item="{c.item}" data-result="{result}" '
                         f'title="{attr(tip)}">{sym} {esc(L.item(c.item))}</li>')
        parts.append(f'<div class="ar-sub">{esc(L("drill_checks"))}</div><ul class="ar-chips">{"".join(chips)}</ul>')
    if failing and o.attachments:
        parts.append(f'<div class="ar-attachments"><div class="ar-sub">{esc(L("drill_attachments"))}</div>'
                     + "".join(_details(title, text, L, open_=True) for title, text in o.attachments.items())
                     + "</div>")
    return (f'<section class="aura-drill ar-drill-{status}" id="{drill_anchor(o.id)}" '
            f'data-drill="{attr(o.id)}" data-status="{status}" data-type="{attr(o.type)}">'
            + "".join(parts) + "</section>")


def document(run: RunContext, **kwargs: Any) -> str:
    """A standalone page: the summary, then every drill's section."""
    p = Parts(run, **kwargs)
    L = p.L
    lang = "zh-CN" if L.language == "zh" else "en"
    title = L("report_title", target=run.target_name or "?")
    drills = "".join(drill_html(o, s, L) for o, s in p.outcomes)
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title></head><body class="ar-standalone"><h1>{esc(title)}</h1>'
            f'{_summary(p)}<div class="aura-drills">{drills}</div></body></html>')
