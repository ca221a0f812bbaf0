"""A run record as Markdown: a pull-request comment.

Everything that came from user code is escaped: no raw HTML, link or image reaches the renderer
(a PR comment must not load a remote image or offer a link because a step's message said so).
"""

from __future__ import annotations

import html
import re

from .common import (
    _OK_RUN,
    TRACEBACK_TAIL_LINES,
    Record,
    all_warnings,
    calls_of,
    error_summary,
    fmt_rate,
    fmt_seconds,
    fmt_when,
    reads_of,
    reason_of,
    tail_lines,
    totals_of,
)
from .savings import savings_markdown

_MD_STATUS = {
    "executed": "▶️ executed",
    "cached": "⚡ cached",
    "pinned": "📌 pinned",
    "failed": "❌ failed",
    "skipped": "⏭️ skipped",
}


_MD_ACTIVE = re.compile(r"[\\`*_\[\]!~#]")
"""Punctuation that starts emphasis, code, links, images, strikethrough or a heading."""
_LINKISH = re.compile(r"\S*(?:://|www\.|@)\S*", re.IGNORECASE)
"""A token a GFM renderer could autolink (a URL, `www.`, an e-mail address)."""


def md_text(text: str) -> str:
    """Prose-safe: user text renders as the same text, never as a link, an image or HTML.

    Markdown punctuation is backslash-escaped, HTML is entity-escaped, and anything GitHub
    would autolink (URLs, `www.`, e-mail addresses) goes in a code span, where nothing links.
    """
    parts = []
    last = 0
    text = str(text)
    for match in _LINKISH.finditer(text):
        parts.append(_md_plain(text[last : match.start()]))
        parts.append(md_code(match.group()))
        last = match.end()
    parts.append(_md_plain(text[last:]))
    return "".join(parts)


def _md_plain(text: str) -> str:
    return html.escape(_MD_ACTIVE.sub(lambda m: "\\" + m.group(), text), quote=False)


def md_cell(text: str) -> str:
    escaped = md_text(text).replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", escaped)


def md_code(text: str, table: bool = False) -> str:
    """An inline code span that survives backticks in the text (and `|` inside a table)."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    span = f"{ticks}{pad}{text}{pad}{ticks}"
    return span.replace("|", "\\|") if table else span


def md_fence(body: str, lang: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body.rstrip()}\n{fence}"


def _run_icon(status: str) -> str:
    return "✅" if status in _OK_RUN else "❌" if status == "failed" else "⚠️"


def render_markdown(record: Record) -> str:
    """A pull-request comment: summary line, step table, savings, diffs, failures."""
    totals = totals_of(record)
    steps = record.get("steps", [])
    status = str(record.get("status", ""))
    out = [
        f"### {_run_icon(status)} {md_code(record.get('pipeline', ''))} {md_text(status)} — "
        f"{totals.executed} executed, {totals.cached} cached, {totals.failed} failed"
        + (f", {totals.skipped} skipped" if totals.skipped else ""),
        "",
        " · ".join(
            part
            for part in (
                f"hit rate **{fmt_rate(totals.hit_rate)}**",
                f"took **{fmt_seconds(record.get('duration_seconds'))}**",
                f"cache saved **{fmt_seconds(totals.saved_seconds)}**",
                f"run {md_code(record.get('run_id', ''))}",
                md_code(record["source_file"]) if record.get("source_file") else "",
                md_text(fmt_when(record.get("started_at"))),
            )
            if part
        ),
    ]
    if record.get("error"):
        out += ["", f"**Run error:** {md_cell(error_summary(record['error']))}"]
    out += ["", "| Step | Status | Duration | Reason |", "| --- | --- | ---: | --- |"]
    for step in steps:
        duration = fmt_seconds(step.get("duration_seconds"))
        if step.get("saved_seconds"):
            duration += f" (saved {fmt_seconds(step['saved_seconds'])})"
        status_text = _MD_STATUS.get(step.get("status", ""), step.get("status", ""))
        why = "; ".join(part for part in (reason_of(step), calls_of(step)) if part)
        out.append(
            f"| {md_code(step['name'], table=True)} | {md_cell(status_text)} | {duration} "
            f"| {md_cell(why)} |"
        )
    out += savings_markdown(record, md_code)
    changes = [step for step in steps if step.get("diff")]
    if changes:
        out += ["", "#### Changes"]
        for step in changes:
            out += [
                "",
                f"**{md_code(step['name'])}** — {md_text(reason_of(step))}",
                "",
                md_fence(step["diff"], "diff"),
            ]
    reading = [(step, reads_of(step)) for step in steps if step.get("reads")]
    if reading:
        out += ["", "#### Files read", ""]
        for step, lines in reading:
            out.append(f"- {md_code(step['name'])}")
            out += [f"  - {md_code(line)}" for line in lines]
    failures = [step for step in steps if step.get("status") == "failed" or step.get("error")]
    if failures or record.get("error"):
        out += ["", "#### Failures"]
        for step in failures:
            out += [
                "",
                f"**{md_code(step['name'])}** — {md_text(error_summary(step.get('error')))}",
                "",
                md_fence(tail_lines(step.get("error") or "(no traceback recorded)", 25)),
            ]
        if record.get("error") and not failures:
            out += ["", md_fence(tail_lines(record["error"], TRACEBACK_TAIL_LINES))]
    notes = all_warnings(record)
    if notes:
        out += ["", "#### Warnings", ""]
        out += [
            f"- {md_code(step) + ': ' if step else ''}{md_text(message)}" for step, message in notes
        ]
    return "\n".join(out) + "\n"
