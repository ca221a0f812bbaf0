"""What every report format shares: the record type, status colours, value formatting and
escaping.
"""

from __future__ import annotations

import html
import time
from typing import Any

from ..engine.describe.display import format_calls
from ..engine.errors import FlowymlError
from ..engine.history.totals import RunTotals, totals_of_record

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


def fmt_when(epoch: float | None) -> str:
    if not epoch:
        return NONE
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def fmt_rate(rate: float | None) -> str:
    return NONE if rate is None else f"{rate * 100:.0f}%"


def totals_of(record: Record) -> RunTotals:
    """The run's totals counted from its steps by the one definition every view uses.

    Counted again rather than read from `record["totals"]`, so a record written by an older
    flowyml-tui (which counted the hit rate its own way) reads like every other view.
    """
    return totals_of_record(record.get("steps", []))


def short_hash(value: str | None, length: int = 10) -> str:
    return (value or "")[:length]


def error_summary(error: str | None) -> str:
    """The last meaningful line of a traceback: `ValueError: bad row 3`."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def tail_lines(text: str, lines: int) -> str:
    parts = text.rstrip("\n").splitlines()
    if len(parts) <= lines:
        return "\n".join(parts)
    return "\n".join(["… (" + str(len(parts) - lines) + " lines above)", *parts[-lines:]])


def reason_of(step: Record) -> str:
    return str(step.get("reason") or step.get("reason_kind") or "")


def calls_of(step: Record) -> str:
    """The step's call-cache use, "calls 95 hit / 5 miss · saved 12.30 s", or ""."""
    return format_calls(step.get("calls") or (), fmt_seconds)


def reads_of(step: Record) -> list[str]:
    """One line per file, folder, database or pattern the step's result read (path, size,
    digest): which version of which file produced it."""
    import msgspec

    from flowyml_tui.engine.describe.display import format_read
    from flowyml_tui.engine.reads.model import Read

    lines = []
    for raw in step.get("reads") or ():
        try:
            lines.append(format_read(msgspec.convert(raw, Read)))
        except msgspec.ValidationError:
            continue  # a record from elsewhere: what cannot be read is left out
    return lines


def all_warnings(record: Record) -> list[tuple[str | None, str]]:
    seen: dict[tuple[str | None, str], None] = {}
    for warning in record.get("warnings", []):
        seen[(warning.get("step"), warning.get("message", ""))] = None
    for step in record.get("steps", []):
        for message in step.get("warnings", []):
            seen[(step["name"], message)] = None
    return list(seen)


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)
