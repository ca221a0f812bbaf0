"""The HTML report's SVG timeline: step durations on the run's time axis."""

from __future__ import annotations

import math

from .common import STATUS_COLOURS, Record, esc, fmt_seconds, reason_of


def _nice_step(span: float) -> float:
    """A 1-2-5 tick spacing giving about six ticks across `span`."""
    raw = span / 6
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _tick_label(value: float, step: float) -> str:
    if step < 0.1:
        digits = max(0, -math.floor(math.log10(step * 1000) + 1e-9))
        return f"{value * 1000:.{digits}f} ms"
    if step < 60:
        return f"{value:.{max(0, -math.floor(math.log10(step) + 1e-9))}f} s"
    return f"{value / 60:g} min"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline_svg(record: Record) -> str:
    """Step durations on the run's time axis, one bar per step, coloured by status."""
    steps = record.get("steps", [])
    if not steps:
        return '<p class="note">No steps.</p>'
    width, label_w, right_w, row_h, top = 1000, 220, 110, 28, 34
    x0, x1 = label_w, width - right_w
    ends = [
        (step.get("offset_seconds") or 0.0) + (step.get("duration_seconds") or 0.0)
        for step in steps
    ]
    span = max([record.get("duration_seconds") or 0.0, *ends, 1e-3])
    tick = _nice_step(span)
    span = math.ceil(span / tick - 1e-9) * tick
    height = top + row_h * len(steps) + 10

    def x_of(seconds: float) -> float:
        return x0 + (x1 - x0) * (seconds / span)

    svg_open = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Timeline of step durations" '
        f'font-family="system-ui, sans-serif" font-size="13">'
    )
    parts = [svg_open, "<title>Timeline of step durations</title>"]
    count = round(span / tick)
    for index in range(count + 1):
        seconds = index * tick
        x = x_of(seconds)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" '
            f'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{top - 12}" text-anchor="middle" fill="#59636e" '
            f'font-size="11">{esc(_tick_label(seconds, tick))}</text>'
        )
    for row, step in enumerate(steps):
        y = top + row * row_h
        status = str(step.get("status", ""))
        colour = STATUS_COLOURS.get(status, "#64748b")
        offset = step.get("offset_seconds") or 0.0
        duration = step.get("duration_seconds") or 0.0
        bar_x = x_of(offset)
        bar_w = max(3.0, x_of(offset + duration) - bar_x)
        name = str(step.get("name", ""))
        label = f"{status} · {fmt_seconds(duration)}"
        if row % 2 == 0:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{row_h}" fill="#f6f8fa"/>')
        parts.append(
            f"<g><title>{esc(name)}: {esc(label)} — {esc(reason_of(step))}</title>"
            f'<text x="{x0 - 10}" y="{y + row_h / 2 + 4.5:.1f}" text-anchor="end" '
            f'fill="#1f2328" font-weight="600">{esc(_truncate(name, 24))}</text>'
            f'<rect x="{bar_x:.1f}" y="{y + 6}" width="{bar_w:.1f}" height="{row_h - 12}" '
            f'rx="3" fill="{colour}"/>'
            f'<text x="{bar_x + bar_w + 6:.1f}" y="{y + row_h / 2 + 4.5:.1f}" '
            f'fill="#59636e" font-size="12">{esc(label)}</text></g>'
        )
    parts.append("</svg>")
    present = list(dict.fromkeys(str(step.get("status", "")) for step in steps))
    legend = "".join(
        f'<span><i style="--c:{STATUS_COLOURS.get(s, "#64748b")}"></i>{esc(s)}</span>'
        for s in present
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'
