"""What the terminal views (the TUI and `flowyml-tui run`) print for statuses, times and sizes.

One table and one format, so the same step reads the same in both; reports for documents keep
their own spaced style (report/common.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..events import StepStatus
from ..reads.model import Read

STATUS_SYMBOLS: dict[str, str] = {
    StepStatus.PENDING: "·",
    StepStatus.RUNNING: "▶",
    StepStatus.CACHED: "✓",
    StepStatus.EXECUTED: "●",
    StepStatus.FAILED: "✗",
    StepStatus.SKIPPED: "\u2013",  # en dash: skipped, because something upstream failed
    StepStatus.PINNED: "◆",
}


def format_duration(seconds: float | None) -> str:
    """Durations people can compare at a glance: 840µs, 12ms, 1.25s, 3m05s."""
    if seconds is None:
        return ""
    if seconds < 0.001:
        return f"{seconds * 1_000_000:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def format_calls(calls: Iterable[Any], duration: Callable[[float], str] = format_duration) -> str:
    """A step's call caches in one phrase: "calls 95 hit / 5 miss · saved 12.30s"; "" for none.

    `calls` are `CallStats` or their dicts (a run record's)."""
    hits = misses = 0
    saved = 0.0
    for call in calls:
        get = call.get if isinstance(call, dict) else lambda k, c=call: getattr(c, k, 0)
        hits += int(get("hits") or 0)
        misses += int(get("misses") or 0)
        saved += float(get("saved_seconds") or 0.0)
    if not hits and not misses:
        return ""
    text = f"calls {hits} hit / {misses} miss"
    return text + f" · saved {duration(saved)}" if saved else text


def plural(count: int, word: str, many: str | None = None) -> str:
    """ "1 entry", "3 entries", "1 step": counts read as English in every view."""
    if count == 1:
        return f"1 {word}"
    if many is None:
        consonant_y = word.endswith("y") and word[-2:-1] not in "aeiou"
        many = word[:-1] + "ies" if consonant_y else word + "s"
    return f"{count} {many}"


def format_bytes(size: float) -> str:
    """512 B, 3.4 KB, 1.2 GB (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def format_read(read: Read) -> str:
    """One line for a file, folder, database or pattern a step read: path, size, digest."""
    mark = " (declared)" if read.declared else ""
    if not read.digest:
        return f"{read.path}  absent{mark}"
    if read.kind == "folder":
        return f"{read.path.rstrip('/')}/  {read.size} names  {read.digest[:12]}{mark}"
    if read.kind == "glob":
        return f"{read.path}  {read.size} matches  {read.digest[:12]}{mark}"
    return f"{read.path}  {format_bytes(read.size)}  {read.digest[:12]}{mark}"
