"""The DAG drawn in layers: each step a box in the layer of its depth, edges named inside."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..state import SYMBOLS, RunModel, StepRow, format_seconds
from .colours import status_style

BOX_MAX = 32
GAP = 2
GUTTER = 5


class DagView(VerticalScroll):
    """Scrollable drawing of the pipeline graph with live statuses."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "DAG"

    def compose(self):  # type: ignore[override]
        yield Static("", id="dag-drawing")

    def show(self, model: RunModel) -> None:
        width = max(self.size.width - 2, 40)
        drawing = render_dag(model, width, lambda status: status_style(self.app, status))
        self.query_one("#dag-drawing", Static).update(drawing)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _box_lines(row: StepRow) -> list[str]:
    lines = [f"{SYMBOLS.get(row.status, '?')} {row.name}", row.status]
    if row.duration is not None and row.status not in ("pending", "running"):
        lines[1] += f" {format_seconds(row.duration)}"
    if row.info.upstream:
        lines.append("← " + ", ".join(row.info.upstream))
    return lines


def render_dag(model: RunModel, width: int, style_for) -> Text:  # noqa: ANN001
    """Text drawing of the layered graph; wraps a wide layer onto several rows."""
    if not model.rows:
        return Text("The graph appears when the first run starts.", style="italic")
    depths = model.depths()
    children = {name: False for name in model.rows}
    for row in model.rows.values():
        for parent in row.info.upstream:
            if parent in children:
                children[parent] = True
    layers: dict[int, list[StepRow]] = {}
    for row in model.rows.values():
        layers.setdefault(depths[row.name], []).append(row)
    out = Text(no_wrap=True)
    for depth in sorted(layers):
        chunks = _wrap(layers[depth], width - GUTTER)
        for index, chunk in enumerate(chunks):
            label = f"{depth:>3}  " if index == 0 else " " * GUTTER
            _draw_row(out, chunk, label, children, style_for)
    return out


def _wrap(rows: list[StepRow], width: int) -> list[list[tuple[StepRow, list[str], int]]]:
    chunks: list[list[tuple[StepRow, list[str], int]]] = [[]]
    used = 0
    for row in rows:
        lines = _box_lines(row)
        inner = min(max(len(line) for line in lines) + 2, BOX_MAX)
        box = inner + 2
        if chunks[-1] and used + box > width:
            chunks.append([])
            used = 0
        chunks[-1].append((row, [_clip(line, inner - 2) for line in lines], inner))
        used += box + GAP
    return chunks


def _draw_row(out: Text, chunk, label: str, children: dict[str, bool], style_for) -> None:  # noqa: ANN001
    height = max(len(lines) for _, lines, _ in chunk)
    blank = " " * len(label)
    gap = " " * GAP

    def line(parts: list[tuple[str, Style | str]], first: bool = False) -> None:
        out.append(label if first else blank, style="dim")
        for index, (text, style) in enumerate(parts):
            if index:
                out.append(gap)
            out.append(text, style=style)
        out.append("\n")

    styles = [style_for(row.status) for row, _, _ in chunk]
    line([("╭" + "─" * inner + "╮", s) for (_, _, inner), s in zip(chunk, styles)], first=True)
    for i in range(height):
        _content_line(out, blank, chunk, styles, i, gap)
    bottoms = []
    arrows = []
    for (row, _, inner), s in zip(chunk, styles):
        mid = inner // 2
        has = children.get(row.name, False)
        bottoms.append(("╰" + "─" * mid + ("┬" if has else "─") + "─" * (inner - mid - 1) + "╯", s))
        arrows.append((" " * (mid + 1) + ("▼" if has else " ") + " " * (inner - mid), s))
    line(bottoms)
    if any(children.get(row.name, False) for row, _, _ in chunk):
        line(arrows)


def _content_line(out, blank, chunk, styles, i, gap) -> None:  # noqa: ANN001
    out.append(blank, style="dim")
    for index, ((row, lines, inner), s) in enumerate(zip(chunk, styles)):
        if index:
            out.append(gap)
        content = lines[i] if i < len(lines) else ""
        out.append("│ ", style=s)
        out.append(content.ljust(inner - 2), style=(s + Style(bold=True)) if i == 0 else "")
        out.append(" │", style=s)
    out.append("\n")
