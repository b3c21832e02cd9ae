"""The probe timeline of one drill as an inline SVG (embedded with pytest-html's extras.html).

Time runs left to right, zero at the rollback start (t0) when there is one. Each probe answer is
coloured by what it showed: healthy (200 and the expected version and pool), unhealthy (no answer
or not 200; also hatched, so it reads without colour), or wrong version/pool (healthy but not yet
what the rollback should bring back). Consecutive answers of one kind are drawn as one band with
a tooltip giving their count and span. Vertical marks show the MARKS that happened (fault
injected, rollback start, rollback exit, recovered, soak end), and the RTO target is shaded from
t0. The picture carries a <title> and <desc> for screen readers.
"""
from __future__ import annotations

import hashlib
import math
from itertools import pairwise

from helpers.outcome import MARKS, DrillOutcome
from helpers.probe import Sample
from helpers.report.labels import Labels
from helpers.report.markup import esc, short_id

__all__ = ["COLORS", "classify", "nice_step", "render"]

COLORS = {"healthy": "#2a9d74", "unhealthy": "#d1495b", "wrong": "#e8a33d"}
MARK_COLORS = {"fault_injected": "#b8323f", "rollback_start": "#1f4e8c", "rollback_exit": "#5b6573",
               "recovered": "#1d7a58", "soak_start": "#6a9fb5", "relapse": "#d1495b", "soak_end": "#3d8fa8"}
W, PAD_L, PAD_R = 960, 18, 18
LABEL_ROW_H, LABEL_ROWS = 15, 3
STRIP_Y = 12 + LABEL_ROW_H * LABEL_ROWS
STRIP_H = 34
AXIS_Y = STRIP_Y + STRIP_H + 6
LEGEND_Y = AXIS_Y + 34
H = LEGEND_Y + 14
_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)


def classify(sample: Sample, version: str | None, pool: str | None) -> str:
    if not sample.healthy:
        return "unhealthy"
    return "healthy" if sample.matches(version, pool) else "wrong"


def nice_step(span: float, max_ticks: int = 10) -> float:
    for step in _STEPS:
        if span / step <= max_ticks:
            return step
    return _STEPS[-1] * math.ceil(span / (_STEPS[-1] * max_ticks))


def _text_width(text: str, px: float = 11) -> float:
    return sum(px if ord(c) > 0x2E80 else px * 0.58 for c in text)


def _fmt_t(v: float) -> str:
    if abs(v) < 1e-9:
        return "0"
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return text.replace("-", "−") + " s"


def render(outcome: DrillOutcome, L: Labels) -> str:
    uid = "tl" + hashlib.sha1(outcome.id.encode()).hexdigest()[:10]
    samples = sorted(outcome.samples, key=lambda s: s.t)
    marks = {k: v for k, v in outcome.marks.items() if k in MARKS}
    title = L("tl_title", drill=short_id(outcome.id))
    counts = {"healthy": 0, "unhealthy": 0, "wrong": 0}
    classes = [classify(s, outcome.expected_version, outcome.expected_pool) for s in samples]
    for c in classes:
        counts[c] += 1

    times = [s.sent_at for s in samples] + [s.t for s in samples] + list(marks.values())
    t0 = marks.get("rollback_start")
    origin = t0 if t0 is not None else (min(times) if times else 0.0)
    budget_end = t0 + outcome.rto_target_s if (t0 is not None and outcome.rto_target_s) else None
    if not times:
        desc = L("tl_no_samples")
        return (f'<svg class="ar-timeline" role="img" aria-labelledby="{uid}-t {uid}-d" '
                f'viewBox="0 0 {W} 40" width="100%" xmlns="http://www.w3.org/2000/svg">'
                f'<title id="{uid}-t">{esc(title)}</title><desc id="{uid}-d">{esc(desc)}</desc>'
                f'<text x="{PAD_L}" y="24" class="ar-tl-empty">{esc(desc)}</text></svg>')
    lo, hi = min(times), max(times)
    if budget_end is not None and budget_end <= hi + (hi - lo) * 0.25:
        hi = max(hi, budget_end)  # show the target's end when it is near what was seen
    if hi - lo < 1e-6:
        hi = lo + 1.0
    pad = (hi - lo) * 0.02
    lo, hi = lo - pad, hi + pad
    span = hi - lo
    plot_w = W - PAD_L - PAD_R

    def x(t: float) -> float:
        return PAD_L + (t - lo) / span * plot_w

    gaps = [b.t - a.t for a, b in pairwise(samples) if b.t > a.t]
    typical = sorted(gaps)[len(gaps) // 2] if gaps else span * 0.01

    parts: list[str] = []
    parts.append(
        f'<defs><pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{COLORS["unhealthy"]}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-opacity=".45" stroke-width="2"/>'
        f'</pattern></defs>')
    parts.append(f'<rect x="{PAD_L}" y="{STRIP_Y}" width="{plot_w}" height="{STRIP_H}" fill="#eef0f3" rx="3"/>')
    # the RTO target window
    if t0 is not None and budget_end is not None:
        bx0, bx1 = x(t0), min(x(budget_end), W - PAD_R)
        parts.append(f'<rect class="ar-tl-budget" x="{bx0:.1f}" y="{STRIP_Y - 4}" '
                     f'width="{max(0.0, bx1 - bx0):.1f}" height="{STRIP_H + 8}" fill="#1f4e8c" '
                     f'fill-opacity=".06"><title>{esc(L("tl_budget"))}: {esc(L.budget(outcome.rto_target_s))}'
                     f'</title></rect>')
    # the strip: runs of samples of one kind
    i = 0
    while i < len(samples):
        j = i
        while j + 1 < len(samples) and classes[j + 1] == classes[i]:
            j += 1
        start = samples[i].t
        end = samples[j + 1].t if j + 1 < len(samples) else samples[j].t + typical
        x0, x1 = x(start), x(end)
        kind = classes[i]
        fill = f"url(#{uid}-hatch)" if kind == "unhealthy" else COLORS[kind]
        n = j - i + 1
        tip = (f"{L('sample_' + kind)} ×{n}: {_fmt_t(start - origin)} … {_fmt_t(samples[j].t - origin)}"
               f" — {samples[i].describe()}")
        parts.append(f'<rect class="ar-sample ar-sample-{kind}" data-kind="{kind}" data-n="{n}" '
                     f'x="{x0:.2f}" y="{STRIP_Y}" width="{max(1.0, x1 - x0):.2f}" height="{STRIP_H}" '
                     f'fill="{fill}"><title>{esc(tip)}</title></rect>')
        i = j + 1
    # axis
    step = nice_step(span)
    first = math.ceil((lo - origin) / step) * step
    ticks = []
    v = first
    while origin + v <= hi + 1e-9:
        tx = x(origin + v)
        ticks.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{AXIS_Y}" y2="{AXIS_Y + 4}" stroke="#8a94a3"/>'
                     f'<text x="{tx:.1f}" y="{AXIS_Y + 15}" text-anchor="middle" class="ar-tl-tick">'
                     f'{esc(_fmt_t(round(v, 6)))}</text>')
        v += step
    parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{AXIS_Y}" y2="{AXIS_Y}" stroke="#8a94a3"/>'
                 + "".join(ticks))
    # marks (and the RTO target's end), labels staggered over LABEL_ROWS rows so they do not overlap
    row_end = [-1e9] * LABEL_ROWS
    shown = [(name, marks[name]) for name in MARKS if name in marks]
    if budget_end is not None and budget_end <= hi:
        shown.append(("budget", budget_end))
    for name, when in sorted(shown, key=lambda m: m[1]):
        mx = x(when)
        color = MARK_COLORS.get(name, "#b8323f")
        label = L("tl_budget") if name == "budget" else L("mark_" + name)
        w = _text_width(label)
        anchor, lx0 = "middle", mx - w / 2
        if lx0 < PAD_L:
            anchor, lx0 = "start", mx - 2
        elif mx + w / 2 > W - PAD_R:
            anchor, lx0 = "end", mx - w + 2
        row = next((r for r in range(LABEL_ROWS) if row_end[r] < lx0 - 6), LABEL_ROWS - 1)
        row_end[row] = lx0 + w
        ly = 12 + row * LABEL_ROW_H
        lx = mx - 2 if anchor == "end" else (mx + 2 if anchor == "start" else mx)
        dash = ' stroke-dasharray="4 3"' if name == "budget" else ""
        parts.append(
            f'<g class="ar-mark" data-mark="{name}"><title>{esc(label)}: {esc(_fmt_t(when - origin))}</title>'
            f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{ly + 3}" y2="{STRIP_Y + STRIP_H + 2}" stroke="{color}" '
            f'stroke-width="1.5"{dash}/>'
            f'<text x="{lx:.1f}" y="{ly}" text-anchor="{anchor}" fill="{color}" class="ar-tl-mark">'
            f'{esc(label)}</text></g>')
    # legend
    lx = PAD_L
    legend = []
    for kind in ("healthy", "wrong", "unhealthy"):
        fill = f"url(#{uid}-hatch)" if kind == "unhealthy" else COLORS[kind]
        text = f"{L('sample_' + kind)} ({counts[kind]})"
        legend.append(f'<rect x="{lx}" y="{LEGEND_Y - 9}" width="12" height="12" rx="2" fill="{fill}"/>'
                      f'<text x="{lx + 17}" y="{LEGEND_Y + 1}" class="ar-tl-legend">{esc(text)}</text>')
        lx += 17 + _text_width(text) + 22
    axis_label = L("tl_axis") if t0 is not None else L("tl_axis_first")
    legend.append(f'<text x="{W - PAD_R}" y="{LEGEND_Y + 1}" text-anchor="end" class="ar-tl-legend ar-tl-axislabel">'
                  f'{esc(axis_label)}</text>')
    parts.append("".join(legend))

    rto = outcome.rto_actual_s
    recovery = L("tl_recovered", rto=L.duration(rto)) if rto is not None else L("tl_not_recovered")
    desc = L("tl_desc", n=len(samples), span=L.duration(max(0.0, max(times) - min(times))),
             healthy=counts["healthy"], unhealthy=counts["unhealthy"], wrong=counts["wrong"],
             recovery=recovery)
    return (f'<svg class="ar-timeline" role="img" aria-labelledby="{uid}-t {uid}-d" '
            f'viewBox="0 0 {W} {H}" width="100%" preserveAspectRatio="xMinYMin meet" '
            f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, -apple-system, Segoe UI, '
            f'Helvetica, Arial, WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif" font-size="11">'
            f'<title id="{uid}-t">{esc(title)}</title><desc id="{uid}-d">{esc(desc)}</desc>'
            + "".join(parts) + "</svg>")
