"""A run record as Markdown: a pull-request comment.

Everything that came from user code is escaped: no raw HTML reaches the renderer.
"""

from __future__ import annotations

import html
import re

from .common import (
    _OK_RUN,
    TRACEBACK_TAIL_LINES,
    Record,
    _all_warnings,
    _reason,
    _tail,
    error_summary,
    fmt_rate,
    fmt_seconds,
    fmt_when,
)

_MD_STATUS = {
    "executed": "▶️ executed",
    "cached": "⚡ cached",
    "pinned": "📌 pinned",
    "failed": "❌ failed",
    "skipped": "⏭️ skipped",
}


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
