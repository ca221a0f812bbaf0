"""A run record as one self-contained HTML page: CSS inline, no scripts.

Everything that came from user code (step names, reasons, diffs, tracebacks, logs) is escaped:
a report is opened in a browser by someone who did not write the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonTracebackLexer, TextLexer

from ..engine.describe.display import format_bytes
from ..engine.history.records import SCHEMA_VERSION
from ..engine.history.savings_history import History
from .common import (
    _OK_RUN,
    NONE,
    STATUS_COLOURS,
    Record,
    all_warnings,
    calls_of,
    error_summary,
    esc,
    fmt_rate,
    fmt_seconds,
    fmt_when,
    reads_of,
    reason_of,
    short_hash,
    totals_of,
)
from .savings import savings_html
from .timeline import timeline_svg

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
h3.savings-so-far { margin-top: 18px; }
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


def badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#64748b")
    return f'<span class="badge" style="--c:{colour}">{esc(status)}</span>'


def run_badge(status: str) -> str:
    colour = "#16a34a" if status in _OK_RUN else "#dc2626" if status == "failed" else "#d97706"
    return f'<span class="badge" style="--c:{colour}">{esc(status)}</span>'


def highlight_block(text: str, lexer: Any) -> str:
    return highlight(text, lexer, _FORMATTER)


def _highlight_error(text: str) -> str:
    lexer = PythonTracebackLexer() if "Traceback (most recent call last)" in text else TextLexer()
    return highlight_block(text, lexer)


def _card(label: str, value: str, accent: str) -> str:
    return (
        f'<div class="card" style="--accent:{accent}"><div class="value">{esc(value)}</div>'
        f'<div class="label">{esc(label)}</div></div>'
    )


def _cards(record: Record) -> str:
    totals = totals_of(record)
    cards = [
        _card("steps executed", str(totals.executed), STATUS_COLOURS["executed"]),
        _card("steps cached", str(totals.cached), STATUS_COLOURS["cached"]),
        _card("steps failed", str(totals.failed), STATUS_COLOURS["failed"]),
    ]
    if totals.skipped:
        cards.append(_card("steps skipped", str(totals.skipped), STATUS_COLOURS["skipped"]))
    cards += [
        _card("cache hit rate", fmt_rate(totals.hit_rate), "#0891b2"),
        _card("time saved by the cache", fmt_seconds(totals.saved_seconds), "#0d9488"),
        _card("run duration", fmt_seconds(record.get("duration_seconds")), "#64748b"),
    ]
    return f'<section class="cards" aria-label="Summary">{"".join(cards)}</section>'


def _step_table(steps: list[Record]) -> str:
    rows = []
    for step in steps:
        status = str(step.get("status", ""))
        saved = step.get("saved_seconds") or 0.0
        rows.append(
            f'<tr class="{esc(status)}"><td class="step">{esc(step.get("name", ""))}</td>'
            f"<td>{badge(status)}</td>"
            f'<td class="num">{esc(fmt_seconds(step.get("duration_seconds")))}</td>'
            f'<td class="num">{esc(fmt_seconds(saved)) if saved else NONE}</td>'
            f"<td>{esc(reason_of(step))}{_calls_note(step)}</td>"
            f"<td><code>{esc(step.get('cache', ''))}</code></td>"
            f'<td><code title="{esc(step.get("code_hash") or "")}">'
            f"{esc(short_hash(step.get('code_hash')))}</code></td></tr>"
        )
    return (
        "<table><thead><tr><th>Step</th><th>Status</th><th class=num>Duration</th>"
        "<th class=num>Saved</th><th>Why</th><th>Cache</th><th>Code</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _calls_note(step: Record) -> str:
    calls = calls_of(step)
    return f"<br><small>{esc(calls)}</small>" if calls else ""


def _changes(steps: list[Record]) -> str:
    items = [
        f'<article class="change"><h3>{esc(step["name"])} '
        f"<small>{esc(reason_of(step))}</small></h3>"
        f"{highlight_block(step['diff'], DiffLexer())}</article>"
        for step in steps
        if step.get("diff")
    ]
    if not items:
        return ""
    return f'<section id="changes"><h2>Changes</h2>{"".join(items)}</section>'


def _failures(record: Record) -> str:
    items = [
        f'<article class="failure"><h3>{esc(step["name"])} '
        f"<small>{esc(error_summary(step.get('error')))}</small></h3>"
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
    notes = all_warnings(record)
    if not notes:
        return ""
    items = "".join(
        f"<li>{'<code>' + esc(step) + '</code>: ' if step else ''}{esc(message)}</li>"
        for step, message in notes
    )
    return f'<section id="warnings"><h2>Warnings</h2><ul class="warnings">{items}</ul></section>'


def _mapping(title: str, values: dict[str, Any], show: Callable[[Any], str]) -> str:
    if not values:
        return ""
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{show(v)}</dd>" for k, v in values.items())
    return f"<h3>{esc(title)}</h3><dl>{rows}</dl>"


def _details(steps: list[Record]) -> str:
    blocks = []
    for step in steps:
        log = step.get("log") or {}
        lines = log.get("lines") or []
        shown = f"{len(lines)} log line{'s' if len(lines) != 1 else ''}"
        body = [
            "<dl>",
            f"<dt>reason</dt><dd>{esc(reason_of(step))}</dd>",
            f"<dt>changed</dt><dd>{esc(', '.join(step.get('changed') or []) or NONE)}</dd>",
            f"<dt>inputs</dt><dd>{esc(', '.join(step.get('inputs') or []) or NONE)}</dd>",
            f"<dt>outputs</dt><dd>{esc(', '.join(step.get('outputs') or []) or NONE)}</dd>",
            f"<dt>code hash</dt><dd><code>{esc(step.get('code_hash') or NONE)}</code></dd>",
            f"<dt>cache key</dt><dd><code>{esc(step.get('key') or NONE)}</code></dd>",
        ]
        for call in step.get("calls") or ():
            body.append(
                f"<dt>call cache <code>{esc(call.get('name', ''))}</code></dt>"
                f"<dd>{esc(calls_of({'calls': [call]}))}</dd>"
            )
        reads = reads_of(step)
        if reads:
            shown = "<br>".join(f"<code>{esc(line)}</code>" for line in reads)
            body.append(f"<dt>reads</dt><dd>{shown}</dd>")
        if step.get("source_file"):
            where = f"{step['source_file']}:{step.get('source_line') or ''}".rstrip(":")
            body.append(f"<dt>defined in</dt><dd><code>{esc(where)}</code></dd>")
        body.append("</dl>")

        def code(value: Any) -> str:
            return f"<code>{esc(value)}</code>"

        body.append(_mapping("Input fingerprints", step.get("input_fingerprints") or {}, code))
        body.append(_mapping("Output fingerprints", step.get("output_fingerprints") or {}, code))
        body.append(
            _mapping(
                "Output sizes",
                step.get("output_sizes") or {},
                lambda v: esc(format_bytes(v)),
            )
        )
        body.append(_mapping("Output previews", step.get("output_previews") or {}, code))
        if lines:
            note = ""
            if log.get("truncated"):
                note = (
                    f'<p class="note">The last {len(lines)} of {log.get("total_lines")} lines.</p>'
                )
            body.append(f'<h3>Log</h3>{note}<pre class="log">{esc(chr(10).join(lines))}</pre>')
        else:
            body.append('<p class="note">No output.</p>')
        blocks.append(
            f"<details><summary>{esc(step.get('name', ''))}{badge(str(step.get('status', '')))}"
            f"<small>{esc(fmt_seconds(step.get('duration_seconds')))} · {esc(shown)}</small>"
            f"</summary>{''.join(body)}</details>"
        )
    return f'<section id="details"><h2>Step details and logs</h2>{"".join(blocks)}</section>'


def page(title: str, body: str) -> str:
    css = _CSS + _FORMATTER.get_style_defs(".hl")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{css}</style></head>"
        f"<body><main>{body}"
        f"<footer>Generated by flowyml-tui · run record schema v{SCHEMA_VERSION}</footer>"
        "</main></body></html>\n"
    )


def render_html(record: Record, history: History | None = None) -> str:
    """One self-contained page: cards, timeline, table, savings, diffs, failures, logs. No
    scripts. `history`: the pipeline's runs up to this one, for the cumulative savings chart."""
    steps = record.get("steps", [])
    status = str(record.get("status", ""))
    meta = [f"run <code>{esc(record.get('run_id', ''))}</code>"]
    if record.get("source_file"):
        meta.append(f"file <code>{esc(record['source_file'])}</code>")
    meta.append(f"started {esc(fmt_when(record.get('started_at')))}")
    meta.append(f"took {esc(fmt_seconds(record.get('duration_seconds')))}")
    banner = ""
    if record.get("error"):
        banner = (
            f'<div class="error-banner"><strong>Run error:</strong> '
            f"{esc(error_summary(record['error']))}</div>"
        )
    header = (
        f"<header><h1>{esc(record.get('pipeline', ''))} {run_badge(status)}</h1>"
        f'<p class="meta">{" · ".join(meta)}</p>{banner}</header>'
    )
    body = (
        header
        + _cards(record)
        + f'<section class="timeline"><h2>Timeline</h2>{timeline_svg(record)}</section>'
        + f'<section id="steps"><h2>Steps</h2>{_step_table(steps)}</section>'
        + savings_html(record, history)
        + _changes(steps)
        + _failures(record)
        + _warnings(record)
        + _details(steps)
    )
    title = f"flowyml run {record.get('pipeline', '')} · {record.get('run_id', '')}"
    return page(title, body)
