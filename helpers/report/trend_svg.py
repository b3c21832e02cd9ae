"""A small RTO trend picture per drill type: earlier runs, this run, the recent median.

One sparkline per type: earlier runs as grey dots joined by a line, a run that never recovered as
a red cross at the top, the recent median as a dashed line, and this run as the last, larger dot
(red when it is flagged as a regression). A <title> says what it shows.
"""
from __future__ import annotations

import hashlib

from helpers.report.history import TrendRow
from helpers.report.labels import Labels
from helpers.report.markup import esc

__all__ = ["render", "render_table"]

W, H, PAD = 240, 46, 7
FAILING = ("failed", "error")


def render(row: TrendRow, L: Labels) -> str:
    uid = "tr" + hashlib.sha1(f"{row.type}".encode()).hexdigest()[:8]
    points = [*row.points, ("now", row.current_rto, row.current_status)]
    n = len(points)
    values = [v for _, v, _ in points if v is not None] + ([row.median] if row.median else [])
    top = max(values) * 1.15 if values else 1.0
    step = (W - 2 * PAD) / max(1, n - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = PAD + i * step if n > 1 else W / 2
        return x, H - PAD - (v / top) * (H - 2 * PAD)

    parts = []
    if row.median:
        _, my = xy(0, row.median)
        parts.append(f'<line x1="{PAD}" x2="{W - PAD}" y1="{my:.1f}" y2="{my:.1f}" stroke="#8a94a3" '
                     f'stroke-dasharray="3 3"><title>{esc(L("trend_col_median"))}: '
                     f'{esc(L.duration(row.median))}</title></line>')
    line = [xy(i, v) for i, (_, v, _) in enumerate(points) if v is not None]
    if len(line) > 1:
        parts.append('<polyline fill="none" stroke="#b7c0cc" stroke-width="1.5" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in line) + '"/>')
    for i, (run_id, v, status) in enumerate(points):
        last = i == n - 1
        label = f"{run_id if not last else L('trend_col_now')}: " + \
            (L.duration(v) if v is not None else L.status(status))
        if v is None:
            x, _ = xy(i, 0)
            y = float(PAD + 2)
            color = "#d1495b" if status in FAILING else "#8a94a3"
            parts.append(f'<g class="ar-trend-fail"><title>{esc(label)}</title>'
                         f'<path d="M{x - 4:.1f},{y - 4:.1f}L{x + 4:.1f},{y + 4:.1f}M{x + 4:.1f},{y - 4:.1f}'
                         f'L{x - 4:.1f},{y + 4:.1f}" stroke="{color}" stroke-width="2"/></g>')
            continue
        x, y = xy(i, v)
        if last:
            color = "#d1495b" if (row.regressed or status in FAILING) else "#2a9d74"
            parts.append(f'<circle class="ar-trend-now" cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{color}">'
                         f'<title>{esc(label)}</title></circle>')
        else:
            color = "#d1495b" if status in FAILING else "#5b6573"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{color}"><title>{esc(label)}'
                         f'</title></circle>')
    title = L("trend_svg_title", type_label=L.drill_type(row.type), n=n)
    return (f'<svg class="ar-trend" role="img" aria-labelledby="{uid}-t" viewBox="0 0 {W} {H}" '
            f'width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{uid}-t">{esc(title)}</title>{"".join(parts)}</svg>')


def _flag_text(row: TrendRow, L: Labels) -> str:
    if not row.flags:
        return L("flag_none")
    texts = []
    for key, fields in row.flags:
        f = dict(fields)
        for k in ("rto", "median"):
            value = f.get(k)
            if isinstance(value, (int, float)):
                f[k] = L.duration(float(value))
        texts.append(L(key, **f))
    return "; ".join(texts)


def render_table(rows: list[TrendRow], L: Labels) -> str:
    if not rows or all(not r.points for r in rows):
        note = f'<p class="ar-muted">{esc(L("trend_none"))}</p>'
        if not rows:
            return note
    else:
        note = ""
    head = "".join(f'<th scope="col">{esc(L(k))}</th>' for k in
                   ("trend_col_type", "trend_col_runs", "trend_col_now", "trend_col_median",
                    "trend_col_flag"))
    body = []
    for r in rows:
        now = L.duration(r.current_rto) if r.current_rto is not None else L.status(r.current_status)
        flag_cls = "ar-flag" if r.regressed else "ar-muted"
        body.append(f'<tr data-type="{esc(r.type)}" data-regressed="{str(r.regressed).lower()}">'
                    f'<th scope="row">{esc(L.drill_type(r.type))}</th><td>{render(r, L)}</td>'
                    f'<td class="ar-num">{esc(now)}</td>'
                    f'<td class="ar-num">{esc(L.duration(r.median))}</td>'
                    f'<td class="{flag_cls}">{esc(_flag_text(r, L))}</td></tr>')
    return (f'{note}<table class="ar-table ar-trend-table" id="aura-trend"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')
