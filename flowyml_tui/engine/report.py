"""Run records rendered for people and tools: JSON, Markdown (a PR comment) and one HTML file.

Everything that came from user code (step names, reasons, diffs, tracebacks, logs) is escaped:
a report is opened in a browser by someone who did not write the pipeline.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonTracebackLexer, TextLexer

from .errors import FlowymlError
from .records import SCHEMA_VERSION, load_run, safe_run_id

Record = dict[str, Any]

EXTENSIONS = {"html": "html", "md": "md", "json": "json"}
_ALIASES = {"markdown": "md", "htm": "html"}
TRACEBACK_TAIL_LINES = 25
"""Lines of a traceback a Markdown comment shows: the end is where the error is."""

NONE = "\u2013"
"""An en dash: the cell has no value."""

STATUS_COLOURS = {
    "executed": "#2563eb",
    "cached": "#16a34a",
    "pinned": "#7c3aed",
    "failed": "#dc2626",
    "skipped": "#9ca3af",
    "running": "#d97706",
    "pending": "#cbd5e1",
}
_MD_STATUS = {
    "executed": "▶️ executed",
    "cached": "⚡ cached",
    "pinned": "📌 pinned",
    "failed": "❌ failed",
    "skipped": "⏭️ skipped",
}
_OK_RUN = {"succeeded", "success", "ok", "completed", "finished", "passed"}


class ReportError(FlowymlError):
    """A report cannot be made as asked (unknown format, unwritable output)."""


def normalise_format(fmt: str) -> str:
    """`html`, `md` (or `markdown`) or `json`; anything else is a clear error."""
    name = _ALIASES.get(fmt.lower().lstrip("."), fmt.lower().lstrip("."))
    if name not in EXTENSIONS:
        raise ReportError(f"unknown report format {fmt!r}: use html, md or json")
    return name


# -- small formatting helpers ------------------------------------------------------------------


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 0.001:
        return "<1 ms" if seconds > 0 else "0 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {rest:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def fmt_delta(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    sign = "+" if seconds > 0 else "\u2212" if seconds < 0 else "\u00b1"
    return f"{sign}{fmt_seconds(abs(seconds))}"


def fmt_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def fmt_when(epoch: float | None) -> str:
    if not epoch:
        return NONE
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def fmt_rate(rate: float | None) -> str:
    return NONE if rate is None else f"{rate * 100:.0f}%"


def short_hash(value: str | None, length: int = 10) -> str:
    return (value or "")[:length]


def error_summary(error: str | None) -> str:
    """The last meaningful line of a traceback: `ValueError: bad row 3`."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _tail(text: str, lines: int) -> str:
    parts = text.rstrip("\n").splitlines()
    if len(parts) <= lines:
        return "\n".join(parts)
    return "\n".join(["… (" + str(len(parts) - lines) + " lines above)", *parts[-lines:]])


def _reason(step: Record) -> str:
    return str(step.get("reason") or step.get("reason_kind") or "")


# -- JSON --------------------------------------------------------------------------------------


def render_json(record: Record) -> str:
    """The record itself, pretty-printed: the stable shape tools read."""
    return json.dumps(record, indent=2, ensure_ascii=False) + "\n"


# -- Markdown ----------------------------------------------------------------------------------


def _md_text(text: str) -> str:
    """Prose-safe: no raw HTML reaches the renderer."""
    return html.escape(str(text), quote=False)


def _md_cell(text: str) -> str:
    escaped = _md_text(text).replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", escaped)


def _md_code(text: str, table: bool = False) -> str:
    """An inline code span that survives backticks in the text (and `|` inside a table)."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    span = f"{ticks}{pad}{text}{pad}{ticks}"
    return span.replace("|", "\\|") if table else span


def _md_fence(body: str, lang: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip()}\n{fence}"


def _run_icon(status: str) -> str:
    return "✅" if status in _OK_RUN else "❌" if status == "failed" else "⚠️"


def render_markdown(record: Record) -> str:
    """A pull-request comment: summary line, step table, diffs, failures."""
    totals = record.get("totals", {})
    steps = record.get("steps", [])
    status = str(record.get("status", ""))
    out = [
        f"### {_run_icon(status)} {_md_code(record.get('pipeline', ''))} {_md_text(status)} — "
        f"{totals.get('executed', 0)} executed, {totals.get('cached', 0)} cached, "
        f"{totals.get('failed', 0)} failed"
        + (f", {totals['skipped']} skipped" if totals.get("skipped") else ""),
        "",
        " · ".join(
            part
            for part in (
                f"hit rate **{fmt_rate(totals.get('hit_rate'))}**",
                f"took **{fmt_seconds(record.get('duration_seconds'))}**",
                f"cache saved **{fmt_seconds(totals.get('saved_seconds', 0.0))}**",
                f"run {_md_code(record.get('run_id', ''))}",
                _md_code(record["source_file"]) if record.get("source_file") else "",
                _md_text(fmt_when(record.get("started_at"))),
            )
            if part
        ),
    ]
    if record.get("error"):
        out += ["", f"**Run error:** {_md_cell(error_summary(record['error']))}"]
    out += ["", "| Step | Status | Duration | Reason |", "| --- | --- | ---: | --- |"]
    for step in steps:
        duration = fmt_seconds(step.get("duration_seconds"))
        if step.get("saved_seconds"):
            duration += f" (saved {fmt_seconds(step['saved_seconds'])})"
        status_text = _MD_STATUS.get(step.get("status", ""), step.get("status", ""))
        out.append(
            f"| {_md_code(step['name'], table=True)} | {_md_cell(status_text)} | {duration} "
            f"| {_md_cell(_reason(step))} |"
        )
    changes = [step for step in steps if step.get("diff")]
    if changes:
        out += ["", "#### Code changes"]
        for step in changes:
            out += [
                "",
                f"**{_md_code(step['name'])}** — {_md_text(_reason(step))}",
                "",
                _md_fence(step["diff"], "diff"),
            ]
    failures = [step for step in steps if step.get("status") == "failed" or step.get("error")]
    if failures or record.get("error"):
        out += ["", "#### Failures"]
        for step in failures:
            out += [
                "",
                f"**{_md_code(step['name'])}** — {_md_text(error_summary(step.get('error')))}",
                "",
                _md_fence(_tail(step.get("error") or "(no traceback recorded)", 25)),
            ]
        if record.get("error") and not failures:
            out += ["", _md_fence(_tail(record["error"], TRACEBACK_TAIL_LINES))]
    notes = _all_warnings(record)
    if notes:
        out += ["", "#### Warnings", ""]
        out += [
            f"- {_md_code(step) + ': ' if step else ''}{_md_text(message)}"
            for step, message in notes
        ]
    return "\n".join(out) + "\n"


def _all_warnings(record: Record) -> list[tuple[str | None, str]]:
    seen: dict[tuple[str | None, str], None] = {}
    for warning in record.get("warnings", []):
        seen[(warning.get("step"), warning.get("message", ""))] = None
    for step in record.get("steps", []):
        for message in step.get("warnings", []):
            seen[(step["name"], message)] = None
    return list(seen)


# -- HTML --------------------------------------------------------------------------------------

_FORMATTER = HtmlFormatter(cssclass="hl", style="default")

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--soft); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 40px; }
h1 { font-size: 26px; margin: 0 0 4px; display: flex; gap: 12px; align-items: center;
  flex-wrap: wrap; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 0 0 8px; }
section { background: var(--bg); border: 1px solid var(--line); border-radius: 10px;
  padding: 18px 20px; margin: 16px 0; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas,
  "Liberation Mono", monospace; font-size: 13px; }
.meta { color: var(--muted); margin: 0; word-break: break-all; }
.meta code { color: var(--fg); }
.error-banner { border-left: 4px solid #dc2626; background: #fef2f2; padding: 8px 12px;
  border-radius: 6px; margin-top: 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px;
  background: none; border: 0; padding: 0; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 16px; border-top: 4px solid var(--accent, #94a3b8); break-inside: avoid; }
.card .value { font-size: 26px; font-weight: 650; line-height: 1.2; }
.card .label { color: var(--muted); font-size: 13px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
  font-weight: 600; color: #fff; background: var(--c, #64748b); white-space: nowrap;
  vertical-align: middle; }
h1 .badge { font-size: 14px; padding: 3px 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td.num, th.num { text-align: right; white-space: nowrap; }
td.step { font-weight: 600; overflow-wrap: break-word; }
tr { break-inside: avoid; }
tr.failed td { background: #fef2f2; }
.delta-up { color: #b91c1c; } .delta-down { color: #15803d; }
.timeline svg { width: 100%; height: auto; display: block; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; color: var(--muted); font-size: 13px;
  margin-top: 6px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px;
  margin-right: 5px; vertical-align: -1px; background: var(--c); }
.change, .failure { margin: 14px 0 0; break-inside: avoid; }
.change h3 small, .failure h3 small { font-weight: normal; color: var(--muted); }
.hl { border: 1px solid var(--line); border-radius: 6px; overflow-x: auto; }
.hl pre { margin: 0; padding: 10px 12px; line-height: 1.45; white-space: pre-wrap;
  word-break: break-word; }
.hl .gi { background: #e6ffec; } .hl .gd { background: #ffebe9; }
.hl .err { border: 0; }
details { border: 1px solid var(--line); border-radius: 8px; margin: 8px 0; padding: 0 12px; }
details[open] { padding-bottom: 10px; }
summary { cursor: pointer; padding: 8px 0; font-weight: 600; }
summary .badge { margin-left: 8px; }
summary small { color: var(--muted); font-weight: normal; margin-left: 8px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 4px 0 10px; }
dt { color: var(--muted); } dd { margin: 0; word-break: break-all; }
pre.log { background: #0d1117; color: #e6edf3; padding: 10px 12px; border-radius: 6px;
  max-height: 420px; overflow: auto; white-space: pre-wrap; word-break: break-word; margin: 0; }
.note { color: var(--muted); font-size: 13px; }
ul.warnings { margin: 0; padding-left: 20px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
@media print {
  body { background: #fff; font-size: 12px; }
  main { max-width: none; padding: 0; }
  section { border: 0; padding: 8px 0; margin: 8px 0; break-inside: auto; }
  h2, h3 { break-after: avoid; }
  .cards { grid-template-columns: repeat(auto-fit, minmax(100px, 1fr)); gap: 8px; }
  .card { border: 1px solid #bbb; border-top-width: 4px; padding: 8px 10px; }
  .card .value { font-size: 18px; }
  pre.log { background: #fff; color: #000; border: 1px solid #bbb; max-height: none; }
  details::details-content { content-visibility: visible; display: contents; }
  .badge, .card, .legend i, tr.failed td, .hl .gi, .hl .gd, svg {
    -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#64748b")
    return f'<span class="badge" style="--c:{colour}">{_e(status)}</span>'


def _run_badge(status: str) -> str:
    colour = "#16a34a" if status in _OK_RUN else "#dc2626" if status == "failed" else "#d97706"
    return f'<span class="badge" style="--c:{colour}">{_e(status)}</span>'


def _highlight(text: str, lexer: Any) -> str:
    return highlight(text, lexer, _FORMATTER)


def _highlight_error(text: str) -> str:
    lexer = PythonTracebackLexer() if "Traceback (most recent call last)" in text else TextLexer()
    return _highlight(text, lexer)


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
            f'font-size="11">{_e(_tick_label(seconds, tick))}</text>'
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
            f"<g><title>{_e(name)}: {_e(label)} — {_e(_reason(step))}</title>"
            f'<text x="{x0 - 10}" y="{y + row_h / 2 + 4.5:.1f}" text-anchor="end" '
            f'fill="#1f2328" font-weight="600">{_e(_truncate(name, 24))}</text>'
            f'<rect x="{bar_x:.1f}" y="{y + 6}" width="{bar_w:.1f}" height="{row_h - 12}" '
            f'rx="3" fill="{colour}"/>'
            f'<text x="{bar_x + bar_w + 6:.1f}" y="{y + row_h / 2 + 4.5:.1f}" '
            f'fill="#59636e" font-size="12">{_e(label)}</text></g>'
        )
    parts.append("</svg>")
    present = list(dict.fromkeys(str(step.get("status", "")) for step in steps))
    legend = "".join(
        f'<span><i style="--c:{STATUS_COLOURS.get(s, "#64748b")}"></i>{_e(s)}</span>'
        for s in present
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _card(label: str, value: str, accent: str) -> str:
    return (
        f'<div class="card" style="--accent:{accent}"><div class="value">{_e(value)}</div>'
        f'<div class="label">{_e(label)}</div></div>'
    )


def _cards(record: Record) -> str:
    totals = record.get("totals", {})
    cards = [
        _card("steps executed", str(totals.get("executed", 0)), STATUS_COLOURS["executed"]),
        _card("steps cached", str(totals.get("cached", 0)), STATUS_COLOURS["cached"]),
        _card("steps failed", str(totals.get("failed", 0)), STATUS_COLOURS["failed"]),
    ]
    if totals.get("skipped"):
        cards.append(_card("steps skipped", str(totals["skipped"]), STATUS_COLOURS["skipped"]))
    cards += [
        _card("cache hit rate", fmt_rate(totals.get("hit_rate")), "#0891b2"),
        _card(
            "time saved by the cache",
            fmt_seconds(totals.get("saved_seconds", 0.0)),
            "#0d9488",
        ),
        _card("run duration", fmt_seconds(record.get("duration_seconds")), "#64748b"),
    ]
    return f'<section class="cards" aria-label="Summary">{"".join(cards)}</section>'


def _step_table(steps: list[Record]) -> str:
    rows = []
    for step in steps:
        status = str(step.get("status", ""))
        saved = step.get("saved_seconds") or 0.0
        rows.append(
            f'<tr class="{_e(status)}"><td class="step">{_e(step.get("name", ""))}</td>'
            f"<td>{_badge(status)}</td>"
            f'<td class="num">{_e(fmt_seconds(step.get("duration_seconds")))}</td>'
            f'<td class="num">{_e(fmt_seconds(saved)) if saved else NONE}</td>'
            f"<td>{_e(_reason(step))}</td>"
            f"<td><code>{_e(step.get('cache', ''))}</code></td>"
            f'<td><code title="{_e(step.get("code_hash") or "")}">'
            f"{_e(short_hash(step.get('code_hash')))}</code></td></tr>"
        )
    return (
        "<table><thead><tr><th>Step</th><th>Status</th><th class=num>Duration</th>"
        "<th class=num>Saved</th><th>Why</th><th>Cache</th><th>Code</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _changes(steps: list[Record]) -> str:
    items = [
        f'<article class="change"><h3>{_e(step["name"])} <small>{_e(_reason(step))}</small></h3>'
        f"{_highlight(step['diff'], DiffLexer())}</article>"
        for step in steps
        if step.get("diff")
    ]
    if not items:
        return ""
    return f'<section id="changes"><h2>Code changes</h2>{"".join(items)}</section>'


def _failures(record: Record) -> str:
    items = [
        f'<article class="failure"><h3>{_e(step["name"])} '
        f"<small>{_e(error_summary(step.get('error')))}</small></h3>"
        f"{_highlight_error(step.get('error') or '(no traceback recorded)')}</article>"
        for step in record.get("steps", [])
        if step.get("status") == "failed" or step.get("error")
    ]
    if record.get("error") and not items:
        items.append(f'<article class="failure">{_highlight_error(record["error"])}</article>')
    if not items:
        return ""
    return f'<section id="failures"><h2>Failures</h2>{"".join(items)}</section>'


def _warnings(record: Record) -> str:
    notes = _all_warnings(record)
    if not notes:
        return ""
    items = "".join(
        f"<li>{'<code>' + _e(step) + '</code>: ' if step else ''}{_e(message)}</li>"
        for step, message in notes
    )
    return f'<section id="warnings"><h2>Warnings</h2><ul class="warnings">{items}</ul></section>'


def _mapping(title: str, values: dict[str, Any], show: Callable[[Any], str]) -> str:
    if not values:
        return ""
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{show(v)}</dd>" for k, v in values.items())
    return f"<h3>{_e(title)}</h3><dl>{rows}</dl>"


def _details(steps: list[Record]) -> str:
    blocks = []
    for step in steps:
        log = step.get("log") or {}
        lines = log.get("lines") or []
        shown = f"{len(lines)} log line{'s' if len(lines) != 1 else ''}"
        body = [
            "<dl>",
            f"<dt>reason</dt><dd>{_e(_reason(step))}</dd>",
            f"<dt>changed</dt><dd>{_e(', '.join(step.get('changed') or []) or NONE)}</dd>",
            f"<dt>inputs</dt><dd>{_e(', '.join(step.get('inputs') or []) or NONE)}</dd>",
            f"<dt>outputs</dt><dd>{_e(', '.join(step.get('outputs') or []) or NONE)}</dd>",
            f"<dt>code hash</dt><dd><code>{_e(step.get('code_hash') or NONE)}</code></dd>",
            f"<dt>cache key</dt><dd><code>{_e(step.get('key') or NONE)}</code></dd>",
        ]
        if step.get("source_file"):
            where = f"{step['source_file']}:{step.get('source_line') or ''}".rstrip(":")
            body.append(f"<dt>defined in</dt><dd><code>{_e(where)}</code></dd>")
        body.append("</dl>")

        def code(value: Any) -> str:
            return f"<code>{_e(value)}</code>"

        body.append(_mapping("Input fingerprints", step.get("input_fingerprints") or {}, code))
        body.append(_mapping("Output fingerprints", step.get("output_fingerprints") or {}, code))
        body.append(
            _mapping(
                "Output sizes",
                step.get("output_sizes") or {},
                lambda v: _e(fmt_bytes(v)),
            )
        )
        body.append(_mapping("Output previews", step.get("output_previews") or {}, code))
        if lines:
            note = ""
            if log.get("truncated"):
                note = (
                    f'<p class="note">The last {len(lines)} of {log.get("total_lines")} lines.</p>'
                )
            body.append(f'<h3>Log</h3>{note}<pre class="log">{_e(chr(10).join(lines))}</pre>')
        else:
            body.append('<p class="note">No output.</p>')
        blocks.append(
            f"<details><summary>{_e(step.get('name', ''))}{_badge(str(step.get('status', '')))}"
            f"<small>{_e(fmt_seconds(step.get('duration_seconds')))} · {_e(shown)}</small>"
            f"</summary>{''.join(body)}</details>"
        )
    return f'<section id="details"><h2>Step details and logs</h2>{"".join(blocks)}</section>'


def _page(title: str, body: str) -> str:
    css = _CSS + _FORMATTER.get_style_defs(".hl")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{css}</style></head>"
        f"<body><main>{body}"
        f"<footer>Generated by flowyml-tui · run record schema v{SCHEMA_VERSION}</footer>"
        "</main></body></html>\n"
    )


def render_html(record: Record) -> str:
    """One self-contained page: cards, timeline, table, diffs, failures, logs. No scripts."""
    steps = record.get("steps", [])
    status = str(record.get("status", ""))
    meta = [f"run <code>{_e(record.get('run_id', ''))}</code>"]
    if record.get("source_file"):
        meta.append(f"file <code>{_e(record['source_file'])}</code>")
    meta.append(f"started {_e(fmt_when(record.get('started_at')))}")
    meta.append(f"took {_e(fmt_seconds(record.get('duration_seconds')))}")
    banner = ""
    if record.get("error"):
        banner = (
            f'<div class="error-banner"><strong>Run error:</strong> '
            f"{_e(error_summary(record['error']))}</div>"
        )
    header = (
        f"<header><h1>{_e(record.get('pipeline', ''))} {_run_badge(status)}</h1>"
        f'<p class="meta">{" · ".join(meta)}</p>{banner}</header>'
    )
    body = (
        header
        + _cards(record)
        + f'<section class="timeline"><h2>Timeline</h2>{timeline_svg(record)}</section>'
        + f'<section id="steps"><h2>Steps</h2>{_step_table(steps)}</section>'
        + _changes(steps)
        + _failures(record)
        + _warnings(record)
        + _details(steps)
    )
    title = f"flowyml run {record.get('pipeline', '')} · {record.get('run_id', '')}"
    return _page(title, body)


# -- comparison --------------------------------------------------------------------------------


def compare_runs(record_a: Record, record_b: Record) -> Record:
    """What changed from run A to run B, step by step (A is the baseline)."""
    steps_a = {step["name"]: step for step in record_a.get("steps", [])}
    steps_b = {step["name"]: step for step in record_b.get("steps", [])}
    names = list(steps_b) + [name for name in steps_a if name not in steps_b]
    rows = []
    for name in names:
        a, b = steps_a.get(name), steps_b.get(name)
        hash_a = a.get("code_hash") if a else None
        hash_b = b.get("code_hash") if b else None
        code_changed = bool(a and b and hash_a and hash_b and hash_a != hash_b)
        duration_a = a.get("duration_seconds") if a else None
        duration_b = b.get("duration_seconds") if b else None
        rows.append(
            {
                "name": name,
                "status_a": a.get("status") if a else None,
                "status_b": b.get("status") if b else None,
                "status_changed": (a or {}).get("status") != (b or {}).get("status"),
                "duration_a": duration_a,
                "duration_b": duration_b,
                "duration_delta": (
                    duration_b - duration_a
                    if duration_a is not None and duration_b is not None
                    else None
                ),
                "reason_b": _reason(b) if b else "not in run B",
                "code_hash_a": hash_a,
                "code_hash_b": hash_b,
                "code_changed": code_changed,
                "diff": (b.get("diff") if b else None) if code_changed else None,
            }
        )

    def side(record: Record) -> Record:
        return {
            key: record.get(key)
            for key in (
                "run_id",
                "pipeline",
                "status",
                "started_at",
                "duration_seconds",
                "totals",
            )
        }

    duration_a = record_a.get("duration_seconds")
    duration_b = record_b.get("duration_seconds")
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "comparison",
        "a": side(record_a),
        "b": side(record_b),
        "duration_delta": (
            duration_b - duration_a if duration_a is not None and duration_b is not None else None
        ),
        "steps": rows,
    }


def _status_change(row: Record) -> str:
    a, b = row["status_a"] or "absent", row["status_b"] or "absent"
    return b if a == b else f"{a} → {b}"


def _comparison_markdown(cmp: Record) -> str:
    a, b = cmp["a"], cmp["b"]
    summary = (
        f"{_md_code(a.get('pipeline') or '')} {_md_text(a.get('status') or '')} in "
        f"{fmt_seconds(a.get('duration_seconds'))} → {_md_code(b.get('pipeline') or '')} "
        f"{_md_text(b.get('status') or '')} in {fmt_seconds(b.get('duration_seconds'))} "
        f"({fmt_delta(cmp.get('duration_delta'))})"
    )
    out = [
        f"### Comparing run {_md_code(a['run_id'])} → {_md_code(b['run_id'])}",
        "",
        summary,
        "",
        "| Step | Status (A → B) | Duration A | Duration B | Δ | Code |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in cmp["steps"]:
        status = _status_change(row)
        if row["status_changed"]:
            status = f"**{status}**"
        code = "changed" if row["code_changed"] else "same" if row["code_hash_b"] else NONE
        out.append(
            f"| {_md_code(row['name'], table=True)} | {_md_cell(status)} "
            f"| {fmt_seconds(row['duration_a'])} | {fmt_seconds(row['duration_b'])} "
            f"| {fmt_delta(row['duration_delta'])} | {code} |"
        )
    changed = [row for row in cmp["steps"] if row["status_changed"]]
    if changed:
        out += ["", "#### Status changes", ""]
        out += [
            f"- {_md_code(row['name'])}: {_md_text(_status_change(row))} — "
            f"{_md_text(row['reason_b'])}"
            for row in changed
        ]
    code_rows = [row for row in cmp["steps"] if row["code_changed"]]
    if code_rows:
        out += ["", "#### Code changes"]
        for row in code_rows:
            header = (
                f"**{_md_code(row['name'])}** — code "
                f"{_md_code(short_hash(row['code_hash_a']))} → "
                f"{_md_code(short_hash(row['code_hash_b']))}"
            )
            body = _md_fence(row["diff"], "diff") if row["diff"] else "_(no diff recorded)_"
            out += ["", header, "", body]
    return "\n".join(out) + "\n"


def _comparison_html(cmp: Record) -> str:
    a, b = cmp["a"], cmp["b"]
    rows = []
    for row in cmp["steps"]:
        delta = row["duration_delta"]
        cls = "" if not delta else "delta-up" if delta > 0 else "delta-down"
        if row["status_changed"]:
            status = (
                f"{_badge(row['status_a'] or 'absent')} → {_badge(row['status_b'] or 'absent')}"
            )
        else:
            status = _badge(row["status_b"] or "absent")
        code = "changed" if row["code_changed"] else "same" if row["code_hash_b"] else NONE
        rows.append(
            f"<tr><td class=step>{_e(row['name'])}</td><td>{status}</td>"
            f"<td class=num>{_e(fmt_seconds(row['duration_a']))}</td>"
            f"<td class=num>{_e(fmt_seconds(row['duration_b']))}</td>"
            f'<td class="num {cls}">{_e(fmt_delta(delta))}</td>'
            f"<td>{_e(code)}</td><td>{_e(row['reason_b'])}</td></tr>"
        )
    diffs = []
    for row in cmp["steps"]:
        if not row["code_changed"]:
            continue
        body = (
            _highlight(row["diff"], DiffLexer())
            if row["diff"]
            else '<p class="note">No diff recorded.</p>'
        )
        diffs.append(
            f'<article class="change"><h3>{_e(row["name"])} <small>code '
            f"{_e(short_hash(row['code_hash_a']))} → {_e(short_hash(row['code_hash_b']))}"
            f"</small></h3>{body}</article>"
        )

    def describe(side: Record) -> str:
        return (
            f"<code>{_e(side['run_id'])}</code> {_e(side.get('pipeline') or '')} "
            f"{_run_badge(str(side.get('status') or ''))} "
            f"in {_e(fmt_seconds(side.get('duration_seconds')))}"
        )

    body = (
        f"<header><h1>Comparing two runs</h1><p class=meta>A: {describe(a)}</p>"
        f"<p class=meta>B: {describe(b)} ({_e(fmt_delta(cmp.get('duration_delta')))})</p>"
        "</header>"
        "<section><h2>Steps</h2><table><thead><tr><th>Step</th><th>Status (A → B)</th>"
        "<th class=num>Duration A</th><th class=num>Duration B</th><th class=num>Δ</th>"
        f"<th>Code</th><th>Why (B)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</section>"
        + (
            f'<section id="changes"><h2>Code changes</h2>{"".join(diffs)}</section>'
            if diffs
            else ""
        )
    )
    return _page(f"flowyml runs {a['run_id']} → {b['run_id']}", body)


def render_comparison(record_a: Record, record_b: Record, fmt: str = "md") -> str:
    """Run B against run A (the baseline) as html, md or json."""
    cmp = compare_runs(record_a, record_b)
    fmt = normalise_format(fmt)
    if fmt == "json":
        return json.dumps(cmp, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return _comparison_markdown(cmp)
    return _comparison_html(cmp)


# -- entry points ------------------------------------------------------------------------------

_RENDERERS: dict[str, Callable[[Record], str]] = {
    "json": render_json,
    "md": render_markdown,
    "html": render_html,
}


def render(record: Record, fmt: str) -> str:
    return _RENDERERS[normalise_format(fmt)](record)


def default_report_path(record: Record, fmt: str, directory: Path | None = None) -> Path:
    ext = EXTENSIONS[normalise_format(fmt)]
    return (directory or Path.cwd()) / f"flowyml-report-{safe_run_id(record['run_id'])}.{ext}"


def write_report(text: str, output: Path) -> Path:
    """Write a report, with a clear error when the place cannot be written."""
    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write the report to {output}: {exc.strerror or exc}") from exc
    return output


def export_run(
    cache_dir: Path | str,
    run_id: str = "latest",
    fmt: str = "html",
    output: Path | None = None,
) -> Path:
    """Render one recorded run to a file; the default name is flowyml-report-<run id>.<ext>."""
    record = load_run(cache_dir, run_id)
    text = render(record, fmt)
    return write_report(text, output or default_report_path(record, fmt))


def export_latest(cache_dir: Path | str, fmt: str = "html", output: Path | None = None) -> Path:
    """What the TUI's `e` key does: the newest run, written to a file, its path returned."""
    return export_run(cache_dir, "latest", fmt, output)
