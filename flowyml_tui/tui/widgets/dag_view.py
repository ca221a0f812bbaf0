"""The DAG drawn in layers: each step a box in the layer of its depth, its inputs named inside.

Drawing exact edges between arbitrary layers in a terminal turns into a tangle fast; naming the
upstream steps inside each box ("← a, b") stays legible at any size, and the boxes still read
top to bottom in the order the data flows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from flowyml_tui.engine.display import STATUS_SYMBOLS, format_duration

from ..state import RunModel, StepRow
from .colours import status_style

BOX_MAX = 32
GAP = "  "
GUTTER = 5
BOLD = Style(bold=True)

StyleFor = Callable[[str], Style]


class DagView(VerticalScroll):
    """Scrollable drawing of the pipeline graph with live statuses."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "DAG"
        self._model: RunModel | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="dag-drawing")

    def on_resize(self) -> None:
        if self._model is not None:
            self.show(self._model)

    def show(self, model: RunModel, now: float | None = None) -> None:
        """Draw the graph; `now` (the app's clock) gives each running step its timer."""
        self._model = model
        width = max(self.scrollable_content_region.width, 40)
        if now is None:
            clock = getattr(self.app, "clock", None)
            now = clock() if callable(clock) else None
        drawing = render_dag(model, width, lambda status: status_style(self.app, status), now)
        self.query_one("#dag-drawing", Static).update(drawing)


@dataclass(frozen=True, slots=True)
class _Box:
    row: StepRow
    lines: tuple[str, ...]
    inner: int
    style: Style
    has_children: bool


def render_dag(model: RunModel, width: int, style_for: StyleFor, now: float | None = None) -> Text:
    """Text drawing of the layered graph; a layer wider than `width` wraps onto more rows.
    With `now`, each running step shows how long it has run (several at once on a pool)."""
    if not model.rows:
        return Text("The graph appears when the first run starts.", style="italic")
    depths = model.depths()
    parents = {parent for row in model.rows.values() for parent in row.info.upstream}
    layers: dict[int, list[_Box]] = {}
    for row in model.rows.values():
        lines = _box_lines(row, now)
        inner = min(max(len(line) for line in lines) + 2, BOX_MAX)
        clipped = tuple(_clip(line, inner - 2) for line in lines)
        box = _Box(row, clipped, inner, style_for(row.status), row.name in parents)
        layers.setdefault(depths[row.name], []).append(box)
    out = Text(no_wrap=True)
    for depth in sorted(layers):
        for index, chunk in enumerate(_wrap(layers[depth], width - GUTTER)):
            label = f"{depth:>3}  " if index == 0 else " " * GUTTER
            _draw(out, chunk, label)
    return out


def _box_lines(row: StepRow, now: float | None = None) -> list[str]:
    status = row.status
    ran = row.status not in ("pending", "running", "skipped") and not row.cached
    if row.duration is not None and ran:
        status += f" {format_duration(row.duration)}"
    elif row.status == "running" and now is not None:
        elapsed = row.elapsed(now)
        if elapsed is not None:
            status += f" {format_duration(elapsed)}"
    lines = [f"{STATUS_SYMBOLS.get(row.status, '?')} {row.name}", status]
    if row.info.upstream:
        lines.append("← " + ", ".join(row.info.upstream))
    return lines


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrap(boxes: list[_Box], width: int) -> list[list[_Box]]:
    chunks: list[list[_Box]] = [[]]
    used = 0
    for box in boxes:
        size = box.inner + 2 + len(GAP)
        if chunks[-1] and used + size > width:
            chunks.append([])
            used = 0
        chunks[-1].append(box)
        used += size
    return chunks


def _draw(out: Text, chunk: list[_Box], label: str) -> None:
    blank = " " * len(label)

    def border(first: bool, parts: list[tuple[str, Style]]) -> None:
        out.append(label if first else blank, style="dim")
        for index, (text, style) in enumerate(parts):
            if index:
                out.append(GAP)
            out.append(text, style=style)
        out.append("\n")

    border(True, [("╭" + "─" * box.inner + "╮", box.style) for box in chunk])
    for i in range(max(len(box.lines) for box in chunk)):
        out.append(blank)
        for index, box in enumerate(chunk):
            if index:
                out.append(GAP)
            content = box.lines[i] if i < len(box.lines) else ""
            out.append("│ ", style=box.style)
            out.append(content.ljust(box.inner - 2), style=box.style + BOLD if i == 0 else "")
            out.append(" │", style=box.style)
        out.append("\n")
    bottoms: list[tuple[str, Style]] = []
    arrows: list[tuple[str, Style]] = []
    for box in chunk:
        mid = box.inner // 2
        joint = "┬" if box.has_children else "─"
        bottoms.append(("╰" + "─" * mid + joint + "─" * (box.inner - mid - 1) + "╯", box.style))
        arrow = "▼" if box.has_children else " "
        arrows.append((" " * (mid + 1) + arrow + " " * (box.inner - mid), box.style))
    border(False, bottoms)
    if any(box.has_children for box in chunk):
        border(False, arrows)
