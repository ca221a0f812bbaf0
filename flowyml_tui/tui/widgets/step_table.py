"""The step table: one row per step in topological order, updated cell by cell."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from flowyml_tui.engine.events import StepStatus

from ..state import SYMBOLS, StepRow, format_seconds
from .colours import status_style

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("status", "Status", 10),
    ("name", "Step", None),
    ("cache", "Cache", 10),
    ("time", "Time", 8),
    ("saved", "Saved", 8),
    ("reason", "Why", None),
)


class StepTable(DataTable[Text | str]):
    """Rows are keyed by step name, so an event updates a few cells instead of the table."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.border_title = "Steps"

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected_step(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    def show_steps(self, rows: Iterable[StepRow], now: float) -> None:
        """Rebuild the rows: only when the DAG's shape changed."""
        selected = self.selected_step
        self.clear()
        rows = list(rows)
        for row in rows:
            self.add_row(*(cell for _, cell in self._cells(row, now)), key=row.name)
        if selected is not None and selected in {row.name for row in rows}:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
        self._fit_reason_column()

    def on_resize(self) -> None:
        self._fit_reason_column()

    def _fit_reason_column(self) -> None:
        """Give "Why" the rest of the width: measuring it per update would cost O(rows)."""
        reason = self.columns.get(ColumnKey("reason"))
        if reason is None:
            return
        others = sum(
            column.get_render_width(self)
            for key, column in self.columns.items()
            if key != reason.key
        )
        available = self.scrollable_content_region.width - others - 2 * self.cell_padding
        width = max(16, available)
        if reason.width != width or reason.auto_width:
            reason.width, reason.auto_width = width, False
            self._require_update_dimensions = True
            self.refresh()

    def update_step(self, row: StepRow, now: float) -> None:
        key = RowKey(row.name)
        if key not in self._row_locations:
            return
        for column, cell in self._cells(row, now):
            self.update_cell(key, column, cell)

    def _cells(self, row: StepRow, now: float) -> list[tuple[str, Text | str]]:
        style = status_style(self.app, row.status)
        status = Text(f"{SYMBOLS.get(row.status, '?')} {row.status}", style=style)
        saved = format_seconds(row.saved) if row.cached and row.saved else ""
        took = "-" if row.cached else format_seconds(row.elapsed(now))  # a hit did not run
        reason = Text(row.reason or "", style=style if row.status == StepStatus.FAILED else "")
        return [
            ("status", status),
            ("name", Text(row.name, style="bold" if row.status == StepStatus.RUNNING else "")),
            ("cache", row.strategy),
            ("time", Text(took, justify="right")),
            ("saved", Text(saved, justify="right", style=status_style(self.app, "cached"))),
            ("reason", reason),
        ]
