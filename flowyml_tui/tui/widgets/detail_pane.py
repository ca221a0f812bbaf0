"""The selected step in depth: why it ran (with the code diff), its logs, outputs and history."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Span, Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Sparkline, Static, TabbedContent, TabPane

from flowyml_tui.engine.describe.display import (
    STATUS_SYMBOLS,
    format_bytes,
    format_calls,
    format_duration,
    format_read,
)
from flowyml_tui.engine.events import ReasonKind, StepInfo, StepStatus

from ..state import HistoryPoint, StepRow
from .colours import status_style

BOLD = Style(bold=True)
LOG_TAIL_LINES = 200
"""Lines of output the Logs tab shows; `L` opens all of them (cheap to redraw every frame)."""


def highlighted(code: str, lexer: str, *, dark: bool) -> Text:
    """Pygments token colours only, so the text sits on the widget's own background."""
    syntax = Syntax(code.rstrip("\n"), lexer, theme="monokai" if dark else "default")
    text = syntax.highlight(code.rstrip("\n"))
    text.style = Style()
    text.spans = [_without_background(span) for span in text.spans]
    return text


def _without_background(span: Span) -> Span:
    style = span.style
    if isinstance(style, Style) and style.bgcolor is not None:
        plain = Style(
            color=style.color, bold=style.bold, italic=style.italic, underline=style.underline
        )
        return Span(span.start, span.end, plain)
    return span


def step_settings(info: StepInfo) -> str:
    """What a step was declared with beyond its cache: retry, timeout, condition, tags..."""
    parts = []
    if info.retry:
        parts.append(f"retry {info.retry}")
    if info.timeout is not None:
        parts.append(f"timeout {info.timeout:g} s")
    if info.condition:
        parts.append(f"condition {info.condition}")
    if info.execution_group:
        parts.append(f"group {info.execution_group}")
    if info.tags:
        parts.append("tags " + ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items())))
    if info.resources:
        parts.append(f"resources {info.resources}")
    return " · ".join(parts)


class DetailPane(Vertical):
    """Tabs for one step; `show()` redraws them from the model."""

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="tab-why", id="detail-tabs"):
            with TabPane("Why / Diff", id="tab-why"), VerticalScroll():
                yield Static("Select a step to see why it ran.", id="why")
            with TabPane("Logs", id="tab-logs"), VerticalScroll():
                yield Static("", id="logs")
            with TabPane("Output", id="tab-output"), VerticalScroll():
                yield Static("", id="output")
            with TabPane("History", id="tab-history"), VerticalScroll():
                yield Sparkline([], id="history-spark")
                yield Static("", id="history")

    _row: StepRow | None = None
    _history_points: Sequence[HistoryPoint] = ()

    def show(self, row: StepRow | None, history: Sequence[HistoryPoint]) -> None:
        """Redraw the tab in view; the others are drawn when they come into view. (A chatty
        step makes its row change every frame: drawing four tabs for it cost the TUI a
        noticeable share of the step's own time.)"""
        self._row, self._history_points = row, history
        self._draw(self.query_one("#detail-tabs", TabbedContent).active)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._draw(event.pane.id or "")

    def _draw(self, tab: str) -> None:
        row, history = self._row, self._history_points
        if row is None:
            self.query_one("#why", Static).update("Select a step to see why it ran.")
            for name in ("logs", "output", "history"):
                self.query_one(f"#{name}", Static).update("")
            self.query_one("#history-spark", Sparkline).data = []
            return
        if tab == "tab-why":
            self.query_one("#why", Static).update(self._why(row, self.app.current_theme.dark))
        elif tab == "tab-logs":
            self.query_one("#logs", Static).update(self._logs(row, self.app.current_theme.dark))
        elif tab == "tab-output":
            self.query_one("#output", Static).update(self._output(row))
        elif tab == "tab-history":
            self.query_one("#history", Static).update(self._history(history))
            self.query_one("#history-spark", Sparkline).data = [p.duration for p in history]

    def _why(self, row: StepRow, dark: bool) -> RenderableType:
        style = status_style(self.app, row.status)
        head = Text.assemble(
            (f"{STATUS_SYMBOLS.get(row.status, '?')} {row.status}", style + BOLD),
            "  ",
            (row.name, "bold"),
            f"  cache={row.strategy}",
        )
        parts: list[RenderableType] = [head]
        settings = step_settings(row.info)
        if settings:
            parts.append(Text(settings, style="dim"))
        if row.status == StepStatus.PENDING and not row.reason:
            parts.append(Text("Waiting for its turn in this run.", style="italic"))
        elif row.reason:
            parts.append(Text.assemble("Why: ", (row.reason, "bold")))
        if row.changed:
            parts.append(Text("Changed: " + ", ".join(row.changed)))
        if row.status == StepStatus.RUNNING and row.expected is not None:
            parts.append(
                Text(
                    f"Usually takes {format_duration(row.expected)} "
                    "(the median of its recent executed runs).",
                    style="italic",
                )
            )
        if row.cached and row.saved:
            parts.append(Text(f"Saved {format_duration(row.saved)} by reusing the cached result."))
        if row.call_saved:
            parts.append(
                Text(
                    f"Saved {format_duration(row.call_saved)} inside the step: its call caches "
                    "answered without making the calls (counted in the run's saved time)."
                )
            )
        calls = format_calls(row.calls)
        if calls:
            parts.append(Text.assemble("Calls: ", (calls.removeprefix("calls "), "bold")))
            if len(row.calls) > 1:  # one line per CachePrimitive when there are several
                for call in row.calls:
                    parts.append(Text(f"  {call.name}: {format_calls([call])}", style="dim"))
        if row.reads:
            count = Text.assemble(("Reads: ", ""), (str(len(row.reads)), "bold"))
            parts.append(count.append(" (a change to any of them re-runs it)"))
            for read in row.reads[:_READS_SHOWN]:
                parts.append(Text(f"  {format_read(read)}", style="dim"))
            if len(row.reads) > _READS_SHOWN:
                parts.append(Text(f"  … and {len(row.reads) - _READS_SHOWN} more", style="dim"))
        if row.cache_flag:  # measured: its cache costs more than recomputing it
            parts.append(
                Text(
                    f"⚠ Not worth caching: {row.cache_flag}. Try cache=False, or "
                    'cache="auto" to let the engine decide.',
                    style=status_style(self.app, "running"),
                )
            )
        for warning in row.warnings:
            parts.append(Text(f"⚠ {warning}", style=status_style(self.app, "running")))
        if row.diff:
            label = (
                "Changes since the pin (the pinned result is still used):"
                if row.reason_kind == ReasonKind.PINNED or row.status == StepStatus.PINNED
                else "Diff against the cached version:"
            )
            parts += [Text(""), Text(label, style="bold"), highlighted(row.diff, "diff", dark=dark)]
        elif row.reason_kind == ReasonKind.CODE_CHANGED:
            parts.append(Text("(no earlier source to compare with)", style="italic"))
        if row.error:
            parts += [Text(""), Text("Traceback — see Logs for the full output:", style="bold")]
            parts.append(Text(row.error.strip().splitlines()[-1], style=style))
        return Group(*parts)

    def _logs(self, row: StepRow, dark: bool) -> RenderableType:
        parts: list[RenderableType] = []
        tail, earlier = row.log_tail(LOG_TAIL_LINES)
        origin = row.origin_log
        if not tail and row.cached and origin is not None and origin.lines:
            parts.append(
                Text(
                    f"Printed by run {origin.run_id}, which produced this cached result:",
                    style="italic",
                )
            )
            tail = "\n".join(origin.lines[-LOG_TAIL_LINES:])
            earlier = max(0, origin.total_lines - min(len(origin.lines), LOG_TAIL_LINES))
        if earlier:
            keys = "/".join(self.app.keys_for("full_log")) or "L"  # type: ignore[attr-defined]
            parts.append(Text(f"{earlier} earlier lines — {keys} opens the full log", style="dim"))
        if tail:
            parts.append(Text(tail))
        if row.error:
            if parts:
                parts.append(Text(""))
            parts.append(highlighted(row.error, "pytb", dark=dark))
        if not parts:
            return Text("No output captured for this step.", style="italic")
        return Group(*parts)

    def _output(self, row: StepRow) -> RenderableType:
        if not row.previews and not row.sizes:
            return Text("No outputs yet.", style="italic")
        parts: list[RenderableType] = []
        for name in row.info.outputs or tuple(row.previews):
            size = row.sizes.get(name)
            head = Text.assemble((name, "bold"), f"  {_size(size)}" if size is not None else "")
            parts.append(head)
            parts.append(Text(row.previews.get(name, "(not loaded)")))
            parts.append(Text(""))
        return Group(*parts)

    def _history(self, history: Sequence[HistoryPoint]) -> RenderableType:
        if not history:
            return Text("No runs of this step yet in this session.", style="italic")
        text = Text()
        for point in reversed(history):
            style = status_style(self.app, point.status)
            text.append(f"run #{point.run:<4} ")
            text.append(f"{STATUS_SYMBOLS.get(point.status, '?')} {point.status:<9}", style=style)
            text.append(f" {format_duration(point.duration):>8}\n")
        return text


_READS_SHOWN = 8


def _size(size: int | None) -> str:
    return "" if size is None else format_bytes(size)
