"""The savings ledger in reports: a Markdown table, and an HTML section with two inline SVG
charts (saved and spent per step in this run; saved, cumulative, over the pipeline's runs).

Step and pipeline names come from user code: every one is escaped (`esc`, `md_code`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.history.savings import Savings
from ..engine.history.savings_history import History, savings_of
from .common import Record, esc, fmt_seconds

SAVED_COLOUR = "#0d9488"
SPENT_COLOUR = "#d97706"


def _priced(record: Record) -> bool:
    """Money is shown when a rate or a cost_fn priced something; else time only."""
    total = savings_of(record.get("savings"))
    return bool(record.get("currency")) or total.cost_saved > 0 or total.cost_spent > 0


def money(amount: float, currency: str | None) -> str:
    """Cents, or two figures for amounts below a cent (a token-priced call)."""
    shown = f"{amount:,.2f}" if amount == 0 or abs(amount) >= 0.01 else f"{amount:.2g}"
    return f"{shown} {currency}" if currency else shown


def step_lines(record: Record) -> list[tuple[str, Savings]]:
    return [(str(s.get("name", "")), savings_of(s.get("savings"))) for s in record.get("steps", [])]


# -- Markdown ----------------------------------------------------------------------------------


def savings_markdown(record: Record, code: Any) -> list[str]:
    """The table's lines (none when nothing was saved or spent); `code` makes a safe code span
    for a table cell (markdown.md_code)."""
    lines = step_lines(record)
    total = savings_of(record.get("savings"))
    if total == Savings():
        return []
    priced, currency = _priced(record), record.get("currency")
    head = "| Step | Time saved | Calls saved |"
    rule = "| --- | ---: | ---: |"
    if priced:
        head += " Cost saved | Cost spent |"
        rule += " ---: | ---: |"
    out = ["", "#### Savings", "", head, rule]
    for name, line in [*lines, ("", total)]:
        cells = [
            code(name, table=True) if name else "**total**",
            fmt_seconds(line.time_saved_s),
            str(line.calls_saved),
        ]
        if priced:
            cells += [money(line.cost_saved, currency), money(line.cost_spent, currency)]
        out.append("| " + " | ".join(cells) + " |")
    if not priced:
        out += ["", "No rate set (cost_per_hour), so time only."]
    return out


# -- HTML --------------------------------------------------------------------------------------


def _bars_svg(record: Record, priced: bool) -> str:
    """Per step: saved and spent side by side (money when priced, else time saved)."""
    lines = step_lines(record)
    width, label_w, right_w, row_h, top = 1000, 220, 290, 30, 10
    x0, x1 = label_w, width - right_w
    if priced:
        values = [(line.cost_saved, line.cost_spent) for _, line in lines]
    else:
        values = [(line.time_saved_s, 0.0) for _, line in lines]
    biggest = max((max(pair) for pair in values), default=0.0) or 1.0
    currency = record.get("currency")
    parts = []
    for index, ((name, _), (saved, spent)) in enumerate(zip(lines, values, strict=True)):
        y = top + index * row_h
        shown = money(saved, currency) if priced else fmt_seconds(saved)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{esc(name)}</text>"
            f'<rect x="{x0}" y="{y + 3}" width="{(x1 - x0) * saved / biggest:.1f}" height="10" '
            f'fill="{SAVED_COLOUR}"><title>{esc(name)}: saved {esc(shown)}</title></rect>'
        )
        label = f"saved {shown}"
        if priced:
            parts.append(
                f'<rect x="{x0}" y="{y + 15}" width="{(x1 - x0) * spent / biggest:.1f}" '
                f'height="10" fill="{SPENT_COLOUR}"><title>{esc(name)}: spent '
                f"{esc(money(spent, currency))}</title></rect>"
            )
            label += f" · spent {money(spent, currency)}"
        parts.append(
            f'<text x="{x1 + 8}" y="{y + 15}" font-size="12" fill="#59636e">{esc(label)}</text>'
        )
    height = top + row_h * len(lines) + 6
    return (
        f'<svg class="savings-steps" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Savings per step" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _cumulative_svg(runs: list[tuple[str, float, Savings]], priced: bool, currency: Any) -> str:
    """Saved so far after each run of the pipeline, oldest first: a rising line."""
    width, height, left, right, top, bottom = 1000, 220, 70, 20, 16, 30
    running, points = 0.0, []
    for _, _, line in runs:
        running += line.cost_saved if priced else line.time_saved_s
        points.append(running)
    biggest = max(points, default=0.0) or 1.0
    span = max(1, len(points) - 1)
    xy = [
        (
            left + (width - left - right) * i / span,
            top + (height - top - bottom) * (1 - v / biggest),
        )
        for i, v in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{SAVED_COLOUR}">'
        f"<title>run {esc(run_id)}: {esc(_amount(v, priced, currency))} saved so far</title>"
        "</circle>"
        for (x, y), v, (run_id, _, _) in zip(xy, points, runs, strict=True)
    )
    axis = (
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
        'stroke="#d1d9e0"/>'
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="12" fill="#59636e">'
        f"{esc(_amount(biggest, priced, currency))}</text>"
        f'<text x="{left}" y="{height - 8}" font-size="12" fill="#59636e">{len(points)} '
        f"run{'s' if len(points) != 1 else ''}, oldest first</text>"
    )
    return (
        f'<svg class="savings-cumulative" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Saved, cumulative over runs" xmlns="http://www.w3.org/2000/svg">{axis}'
        f'<polyline points="{path}" fill="none" stroke="{SAVED_COLOUR}" stroke-width="2"/>'
        f"{dots}</svg>"
    )


def _amount(value: float, priced: bool, currency: Any) -> str:
    return money(value, currency) if priced else fmt_seconds(value)


def savings_html(record: Record, history: History | None = None) -> str:
    """The savings section: per-step chart, table, and the cumulative chart when `history`
    (the pipeline's runs up to this one) is given; "" when nothing was saved or spent."""
    total = savings_of(record.get("savings"))
    if total == Savings() and (history is None or history.total == Savings()):
        return ""
    priced, currency = _priced(record), record.get("currency")
    rows = []
    for name, line in [*step_lines(record), ("total", total)]:
        cells = [
            f'<td class="step">{esc(name)}</td>',
            f'<td class="num">{esc(fmt_seconds(line.time_saved_s))}</td>',
            f'<td class="num">{line.calls_saved}</td>',
        ]
        if priced:
            cells += [
                f'<td class="num">{esc(money(line.cost_saved, currency))}</td>',
                f'<td class="num">{esc(money(line.cost_spent, currency))}</td>',
            ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "<th>Step</th><th class=num>Time saved</th><th class=num>Calls saved</th>"
    if priced:
        head += "<th class=num>Cost saved</th><th class=num>Cost spent</th>"
    note = "" if priced else '<p class="note">No rate set (cost_per_hour), so time only.</p>'
    legend = (
        f'<div class="legend"><span><i style="--c:{SAVED_COLOUR}"></i>saved</span>'
        + (f'<span><i style="--c:{SPENT_COLOUR}"></i>spent</span>' if priced else "")
        + "</div>"
    )
    parts = [
        '<section id="savings"><h2>Savings</h2>',
        note,
        _bars_svg(record, priced),
        legend,
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]
    if history is not None and history.runs > 1:
        parts += [
            "<h3 class=savings-so-far>Saved so far, over this pipeline's runs</h3>",
            _cumulative_svg(history.per_run, priced, currency),
        ]
    parts.append("</section>")
    return "".join(parts)


def history_upto(records: list[Mapping[str, Any]], record: Record) -> list[Mapping[str, Any]]:
    """The records of `record`'s pipeline, priced in its currency, that finished no later than
    it (it included): what its cumulative chart adds up."""
    ends = float(record.get("finished_at") or 0.0)
    pipeline, currency = record.get("pipeline"), record.get("currency")
    return [
        r
        for r in records
        if r.get("pipeline") == pipeline
        and r.get("currency") == currency
        and float(r.get("finished_at") or 0.0) <= ends
    ]
