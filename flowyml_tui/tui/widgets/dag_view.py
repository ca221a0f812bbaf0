"""The DAG drawn as `git log --graph` draws history: a row per step, edges as lanes beside them.

Steps come in the run's order (topological), one per row, so the drawing is as tall as the
table and fits 80x24 for any pipeline that the table fits. Each edge from a producer to a
consumer is a lane: it leaves the producer's row, runs down past the rows in between and
joins the consumer's row, where lanes meeting at one step merge (`┴╯`) and a step with
several consumers forks (`┬╮`). Arrow keys move the selection along the rows (up/down) and
the edges (left to an upstream step, right to a downstream one); the app keeps the step
table's cursor, and so the detail pane, on the same step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from flowyml_tui.engine.describe.display import STATUS_SYMBOLS, format_duration

from ..state import RunModel, StepRow
from .colours import status_style

StyleFor = Callable[[str], Style]
SELECTED = Style(reverse=True, bold=True)
LANE = Style(dim=True)


class DagView(VerticalScroll, can_focus=True):
    """Scrollable drawing of the pipeline graph with live statuses and a selected step."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("left,h", "follow('up')", "Upstream", show=False),
        Binding("right,l", "follow('down')", "Downstream", show=False),
    ]

    class Selected(Message):
        """The user moved the DAG's selection to `step`."""

        def __init__(self, step: str) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "DAG"
        self._model: RunModel | None = None
        self._now: float | None = None
        self.selected: str | None = None
        self._lines: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="dag-drawing")

    def on_resize(self) -> None:
        if self._model is not None:
            self.show(self._model, self._now)

    def show(self, model: RunModel, now: float | None = None, selected: str | None = None) -> None:
        """Draw the graph; `now` (the app's clock) gives each running step its timer."""
        self._model = model
        if now is None:
            clock = getattr(self.app, "clock", None)
            now = clock() if callable(clock) else None
        self._now = now
        if selected is not None:
            self.selected = selected
        if self.selected not in model.rows:
            self.selected = next(iter(model.rows), None)
        width = max(self.scrollable_content_region.width, 20)
        drawing, self._lines = render_dag(
            model, width, lambda status: status_style(self.app, status), now, self.selected
        )
        self.query_one("#dag-drawing", Static).update(drawing)

    def action_move(self, delta: int) -> None:
        if self._model is None or not self._model.rows:
            return
        names = list(self._model.rows)
        index = names.index(self.selected) if self.selected in names else 0
        self._select(names[max(0, min(len(names) - 1, index + delta))])

    def action_follow(self, direction: str) -> None:
        """Left: the step's first upstream step; right: its first downstream one."""
        if self._model is None or self.selected not in self._model.rows:
            return
        rows = self._model.rows
        if direction == "up":
            ups = [u for u in rows[self.selected].info.upstream if u in rows]
            target = ups[0] if ups else None
        else:
            downs = [n for n, row in rows.items() if self.selected in row.info.upstream]
            target = downs[0] if downs else None
        if target is not None:
            self._select(target)

    def _select(self, step: str) -> None:
        if step == self.selected or self._model is None:
            return
        self.selected = step
        self.show(self._model, self._now)
        line = self._lines.get(step)
        if line is not None:
            self._scroll_to_line(line)
        self.post_message(self.Selected(step))

    def _scroll_to_line(self, line: int) -> None:
        height = self.scrollable_content_region.height
        if line < self.scroll_y or line >= self.scroll_y + height:
            self.scroll_to(y=max(0, line - height // 2), animate=False)


@dataclass(slots=True)
class _Lanes:
    """Lane i carries an edge down to the step named `targets[i]`; None is a free lane."""

    targets: list[str | None]

    def free(self, after: int) -> int:
        for index in range(after + 1, len(self.targets)):
            if self.targets[index] is None:
                return index
        self.targets.append(None)
        return len(self.targets) - 1

    def trim(self) -> None:
        while self.targets and self.targets[-1] is None:
            self.targets.pop()


def render_dag(
    model: RunModel,
    width: int,
    style_for: StyleFor,
    now: float | None = None,
    selected: str | None = None,
) -> tuple[Text, dict[str, int]]:
    """The drawing, and the line each step's row is on (for scrolling to the selection)."""
    if not model.rows:
        return Text("The graph appears when the first run starts.", style="italic"), {}
    children: dict[str, list[str]] = {name: [] for name in model.rows}
    for row in model.rows.values():
        for up in row.info.upstream:
            if up in children:
                children[up].append(row.name)
    lanes = _Lanes([])
    out = Text(no_wrap=True, overflow="ellipsis")
    line_of: dict[str, int] = {}
    line = 0
    for row in model.rows.values():
        name = row.name
        incoming = [i for i, target in enumerate(lanes.targets) if target == name]
        if incoming:
            column = incoming[0]
            if len(incoming) > 1:  # edges from several producers meet here
                _edge_row(out, lanes.targets, column, incoming[1:], "┴", "╯", width)
                line += 1
                for index in incoming[1:]:
                    lanes.targets[index] = None
        else:  # a root: the first free lane
            column = lanes.free(-1)
        lanes.targets[column] = name
        lanes.trim()  # merged lanes on the right end here
        line_of[name] = line
        _step_row(out, lanes.targets, column, row, style_for, now, name == selected, width)
        line += 1
        kids = children[name]
        lanes.targets[column] = kids[0] if kids else None
        if len(kids) > 1:  # one producer, several consumers
            opened = []
            for kid in kids[1:]:
                index = lanes.free(column)
                lanes.targets[index] = kid
                opened.append(index)
            _edge_row(out, lanes.targets, column, opened, "┬", "╮", width)
            line += 1
        lanes.trim()
    out.rstrip()
    return out, line_of


def _lane_cells(targets: list[str | None]) -> list[str]:
    return ["│" if target is not None else " " for target in targets]


def _edge_row(
    out: Text,
    targets: list[str | None],
    column: int,
    others: list[int],
    joint: str,
    corner: str,
    width: int,
) -> None:
    """A row joining lanes `others` to `column` (a merge) or opening them from it (a fork)."""
    cells = _lane_cells(targets)
    last = max(others)
    for index in range(column + 1, last + 1):
        if index in others:
            cells[index] = corner if index == last else joint
        else:
            cells[index] = "┼" if targets[index] is not None else "─"
    cells[column] = "├"
    text = "".join(
        cell + ("─" if column <= index < last else " ") for index, cell in enumerate(cells)
    )
    out.append(text.rstrip()[:width], style=LANE)
    out.append("\n")


def _step_row(
    out: Text,
    targets: list[str | None],
    column: int,
    row: StepRow,
    style_for: StyleFor,
    now: float | None,
    selected: bool,
    width: int,
) -> None:
    cells = _lane_cells(targets)
    style = style_for(row.status)
    graph = Text(no_wrap=True)
    for index, cell in enumerate(cells):
        if index == column:
            graph.append(STATUS_SYMBOLS.get(row.status, "?"), style=style)
        else:
            graph.append(cell, style=LANE)
        graph.append(" ")
    label = Text(row.name, style=(style + SELECTED) if selected else style + Style(bold=True))
    detail = _detail(row, now)
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append_text(graph)
    line.append(" ")
    line.append_text(label)
    if detail:
        line.append("  " + detail, style="dim")
    line.truncate(width, overflow="ellipsis")
    out.append_text(line)
    out.append("\n")


def _detail(row: StepRow, now: float | None) -> str:
    """Status, time, and why: what the table's row says, in one line."""
    status = row.status
    ran = status not in ("pending", "running", "skipped") and not row.cached
    if row.duration is not None and ran:
        status += f" {format_duration(row.duration)}"
    elif status == "running" and now is not None:
        elapsed = row.elapsed(now)
        if elapsed is not None:
            status += f" {format_duration(elapsed)}"
    reason = row.reason if row.reason and row.reason != row.status else ""
    if reason.startswith(row.status):  # "pinned; since the pin: ...": the word once
        return reason if status == row.status else f"{status[len(row.status) :].strip()} · {reason}"
    return f"{status} · {reason}" if reason else status
