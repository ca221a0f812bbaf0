"""What the past-runs screen shows, as Rich renderables: one run, or two compared.

Plain functions of run records (dicts from `engine.history.records.load_run`), so the screen only
loads and lays out. The comparison is `report.compare.compare_runs`, the same one
`flowyml-tui report --compare` renders.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from flowyml_tui.engine.describe.display import STATUS_SYMBOLS, format_duration
from flowyml_tui.engine.errors import FlowymlError
from flowyml_tui.engine.history.records import RunRecordWarning, RunSummary
from flowyml_tui.report.compare import compare_runs, context_change_text

Record = dict[str, Any]
StyleOf = Callable[[str], Style]
"""status -> the theme's style for it."""

T = TypeVar("T")


def read_quietly(read: Callable[[], list[T]]) -> tuple[list[T], str | None]:
    """Run records as a screen reads them (in a worker): a bad record is left out rather than
    warned about under the app, and a cache dir that cannot be read is one problem line."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunRecordWarning)
        try:
            return read(), None
        except (FlowymlError, OSError) as exc:
            return [], str(exc)


def when(epoch: float) -> str:
    """A run's start, local time: the date only when it is not today, the year only when it
    is not this one (the list is narrow at 80 columns)."""
    local = time.localtime(epoch)
    if time.strftime("%Y-%m-%d", local) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", local)
    if local.tm_year == time.localtime().tm_year:
        return time.strftime("%m-%d %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def context_text(context: Mapping[str, str]) -> str:
    """ "n=10 mode='fast'", or "-" when the run had no context values."""
    return " ".join(f"{key}={value}" for key, value in context.items()) or "-"


def summary_cells(number: int, run: RunSummary) -> tuple[str, ...]:
    """The cells of one row of the runs table (after the mark column)."""
    return (
        f"#{number}",
        when(run.started_at),
        format_duration(run.duration_seconds),
        f"{run.cached} / {run.executed} / {run.failed}",
        run.status,
        context_text(run.context),
    )


def run_detail(number: int, record: Record, style_of: StyleOf) -> RenderableType:
    """One run: its header, context values, and every step with its status and reason."""
    header = Text.assemble(
        (f"Run #{number}", "bold"),
        f"  {record['run_id']}  {record['status']}  started {when(record['started_at'])}",
        f"  took {format_duration(record['duration_seconds'])}",
    )
    context = Text(f"Context: {context_text(record.get('context') or {})}")
    table = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("Step", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("Why", ratio=1, overflow="ellipsis", no_wrap=True)
    for step in record["steps"]:
        status = step["status"]
        table.add_row(
            step["name"],
            Text(f"{STATUS_SYMBOLS.get(status, '?')} {status}", style=style_of(status)),
            format_duration(step["duration_seconds"]) if status != "skipped" else "-",
            step["reason"],
        )
    hint = Text("Space marks this run; mark two to compare them.", style="italic dim")
    return Group(header, context, Text(), table, Text(), hint)


def comparison(
    numbered_a: tuple[int, Record], numbered_b: tuple[int, Record], style_of: StyleOf
) -> RenderableType:
    """Run B against run A (the older, the baseline): context and per-step differences."""
    (number_a, record_a), (number_b, record_b) = numbered_a, numbered_b
    cmp = compare_runs(record_a, record_b)
    delta = cmp["duration_delta"]
    header = Text.assemble(
        ("Comparing ", "bold"),
        (f"#{number_a}", "bold"),
        f" ({record_a['run_id']}) → ",
        (f"#{number_b}", "bold"),
        f" ({record_b['run_id']})",
        f"  {format_duration(record_a['duration_seconds'])} → "
        f"{format_duration(record_b['duration_seconds'])}",
        f" ({_signed(delta)})" if delta is not None else "",
    )
    changes = cmp["context"]
    if changes:
        context = Text("Context changed: ")
        for i, change in enumerate(changes):
            context.append(("; " if i else "") + change["key"], style="bold")
            context.append(f" {context_change_text(change)}")
    else:
        context = Text(f"Context: the same ({context_text(record_b.get('context') or {})})")
    table = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("Step", no_wrap=True)
    table.add_column("Status (A → B)", no_wrap=True)
    table.add_column("A", justify="right", no_wrap=True)
    table.add_column("B", justify="right", no_wrap=True)
    table.add_column("Δ", justify="right", no_wrap=True)
    table.add_column("Why (B)", ratio=1, overflow="ellipsis", no_wrap=True)
    for row in cmp["steps"]:
        a, b = row["status_a"] or "absent", row["status_b"] or "absent"
        status = Text(b, style=style_of(b)) if a == b else _arrow(a, b, style_of)
        table.add_row(
            Text(row["name"], style="bold" if row["status_changed"] else ""),
            status,
            _seconds(row["duration_a"], a),
            _seconds(row["duration_b"], b),
            _signed(row["duration_delta"]) if row["duration_delta"] is not None else "-",
            row["reason_b"],
        )
    changed = sum(row["status_changed"] for row in cmp["steps"])
    tally = Text(f"{changed} of {len(cmp['steps'])} steps changed status", style="italic dim")
    return Group(header, context, Text(), table, Text(), tally)


def _arrow(a: str, b: str, style_of: StyleOf) -> Text:
    return Text.assemble((a, style_of(a)), " → ", (b, style_of(b) + Style(bold=True)))


def _seconds(seconds: float | None, status: str) -> str:
    if seconds is None or status in ("skipped", "absent"):
        return "-"
    return format_duration(seconds)


def _signed(seconds: float) -> str:
    return ("+" if seconds >= 0 else "-") + format_duration(abs(seconds))
