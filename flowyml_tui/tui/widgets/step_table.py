"""The step table: one row per step in topological order, updated cell by cell.

A run of a thousand steps must not make the UI lag (issue #3), so the table does as little as it
can per frame: it remembers what each cell shows as a small tuple and only touches (and only
builds Rich Text for) the cells whose content changed, and it never asks DataTable to measure
columns: every width is fixed or computed here from the names.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from time import perf_counter

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from flowyml_tui.engine.describe.display import STATUS_SYMBOLS, format_duration
from flowyml_tui.engine.events import StepStatus

from ..estimates import remaining_text
from ..state import StepRow
from .colours import status_style, theme_style
from .table_fit import FIXED_WIDTHS, fit_columns
from .table_internals import (
    CellsRenderedOncePerLook,
    Lettered,
    RowsMovedOnlyByRebuilds,
    cells_written,
    lay_out_rows,
    row_cells,
    row_position,
    skip_measuring_new_rows,
    widths_changed,
)
from .table_paint import StylesFixedWhilePainting

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("status", "Status", FIXED_WIDTHS["status"]),
    ("name", "Step", None),
    ("cache", "Cache", FIXED_WIDTHS["cache"]),
    ("time", "Time", FIXED_WIDTHS["time"]),
    ("saved", "Saved", FIXED_WIDTHS["saved"]),
    ("reason", "Why", None),
)
FLAG_MARK = "⚠"
"""Beside the reason of a step whose cache costs more than recomputing it."""
COLUMN_KEYS = tuple(ColumnKey(key) for key, _, _ in COLUMNS)
COLUMN_INDEX = {key: index for index, key in enumerate(COLUMN_KEYS)}
NAME, SAVED = COLUMN_INDEX[ColumnKey("name")], COLUMN_INDEX[ColumnKey("saved")]

Shown = tuple[Hashable, ...]
"""What each cell of a row shows, one small value per column: equal means nothing to redraw."""
STALE: Shown = (None,) * len(COLUMNS)
"""What a row "shows" after a theme change: unlike anything, so every cell is drawn again."""


class StepTable(CellsRenderedOncePerLook, StylesFixedWhilePainting, RowsMovedOnlyByRebuilds):
    """Rows are keyed by step name, so an event updates a few cells instead of the table.

    Rows move only when `show_steps` rebuilds them: writing cells, resizing and the like do not
    make DataTable work out every row's place again (`RowsMovedOnlyByRebuilds`). A cell is
    drawn from the one render of its look (`cell_look`): a screen of rows that all changed
    renders each status, time or reason once, not once per row (`CellsRenderedOncePerLook`).
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="table.down"),
        Binding("k", "cursor_up", "Up", show=False, id="table.up"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.border_title = "Steps"
        self._shown: dict[str, Shown] = {}
        self._styles: dict[str, Style] = {}
        self._hidden: frozenset[str] = frozenset()
        """Columns dropped to leave Why room (`table_fit`): narrow terminals only."""
        self._rows: list[StepRow] = []
        self._now = 0.0
        self._longest_name = 0

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        for key, label, width in COLUMNS:
            if key not in self._hidden:
                self.add_column(label, key=key, width=width)

    def _visible(self) -> list[int]:
        """The indices (in `COLUMNS`) of the columns shown now."""
        return [i for i, (key, _, _) in enumerate(COLUMNS) if key not in self._hidden]

    @property
    def selected_step(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    @property
    def shown_steps(self) -> set[str]:
        """The steps that have a row now (all of them, unless `/` filters)."""
        return set(self._shown)

    def restyle(self) -> None:
        """The theme changed: every cell is drawn again with the new colours on its next update."""
        self._styles.clear()
        self._shown = dict.fromkeys(self._shown, STALE)
        self.forget_looks()

    def cell_look(self, row_key: RowKey, column_key: ColumnKey) -> Hashable | None:
        """A cell is drawn from what `_what_shows` says of it (`_cell`); a name also from the
        row's name. None while the row's cells wait to be drawn in a new theme's colours."""
        shown = self._shown.get(row_key.value)  # type: ignore[arg-type]
        if shown is None or shown is STALE:
            return None
        index = COLUMN_INDEX[column_key]
        if index == NAME:  # bold while running
            name = str(row_key.value)
            return Lettered(name, shown[NAME]) if Lettered.fits(name) else (name, shown[NAME])
        if index == SAVED:  # a saving, or while running what is left, in another colour
            return (shown[SAVED], shown[NAME])
        return shown[index]

    def show_steps(self, rows: Iterable[StepRow], now: float) -> None:
        """Rebuild the rows: only when the DAG's shape changed (or columns come and go)."""
        selected = self.selected_step
        self.clear()
        self._shown.clear()
        self._rows, self._now = list(rows), now
        visible = self._visible()
        for row in self._rows:
            shown = self._what_shows(row, now)
            self.add_row(*(self._cell(i, row, shown) for i in visible), key=row.name)
            self._shown[row.name] = shown
        self._size_name_column(self._rows)
        lines = lay_out_rows(self)  # part of the build, not of the first paint after it
        if selected is not None and selected in self._shown:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
        self._fit_columns()
        self._size_now(lines)

    def _size_now(self, lines: int) -> None:
        """Set the scrollable size now, not when DataTable is next idle: the new rows' first
        paint then has its scrollbar, instead of a second paint of every visible row at the
        narrower width once the scrollbar appears (~15-30 ms at 160 columns)."""
        header = self.header_height if self.show_header else 0
        width = sum(column.get_render_width(self) for column in self.columns.values())
        self.virtual_size = Size(width, lines + header)

    def _size_name_column(self, rows: list[StepRow]) -> None:
        """Know the longest name now, instead of DataTable measuring every cell.

        DataTable measures each cell of each new row when it is next idle (~70 ms for a thousand
        rows); the other columns have fixed widths and names are plain text, so their longest
        length is the same answer, and knowing it now lets "Why" be fitted right away.
        """
        longest = max((cell_len(row.name) for row in rows), default=0)
        self._longest_name = max(longest, cell_len(COLUMNS[1][1]))
        skip_measuring_new_rows(self)

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Give "Why" the rest of the width, dropping or narrowing the less useful columns
        first when it is short (`table_fit`); measuring it per update would cost O(rows)."""
        if not self.columns:
            return
        fit = fit_columns(self._width_for_columns(), self._longest_name, self.cell_padding)
        if fit.hidden != self._hidden:  # a rare event (a resize across a threshold): rebuild
            self._hidden = fit.hidden
            self.clear(columns=True)
            self._add_columns()
            self.show_steps(self._rows, self._now)
            return
        changed = False
        for key, width in (("name", fit.name_width), ("reason", fit.reason_width)):
            column = self.columns[ColumnKey(key)]
            if column.width != width or column.auto_width:
                column.width, column.auto_width = width, False
                changed = True
        if changed:
            widths_changed(self)
            self.refresh()

    def _width_for_columns(self) -> int:
        """The content width, less the vertical scrollbar the rows are about to need.

        The scrollbar appears only after the table's new size is worked out, a frame after a
        build: fitting to it then changed the widths again, and repainted every visible row
        (~15-30 ms at 160 columns) or, across a column-dropping threshold, rebuilt every row.
        """
        region = self.scrollable_content_region
        if self.show_vertical_scrollbar or self.styles.overflow_y != "auto":
            return region.width
        lines = len(self._rows) + (self.header_height if self.show_header else 0)
        if lines > region.height:
            return region.width - self.styles.scrollbar_size_vertical
        return region.width

    def steps_on_screen(self) -> list[str]:
        """The steps whose rows are scrolled into view now (rows are one line high)."""
        top = self.scroll_offset.y
        return [row.name for row in self._rows[top : top + self.size.height + 1]]

    def update_steps(
        self, rows: Sequence[StepRow], now: float, until: float | None = None
    ) -> list[str]:
        """Bring these rows up to date in one go, in order, stopping once `perf_counter()`
        passes `until`; returns the names of the rows it did not reach.

        `update_cell` would invalidate every render cache and repaint the whole visible table
        for each cell, so a frame that touches many rows (most of them scrolled out of sight)
        cost a full repaint per frame. Instead the changed cells are written to the table's
        data, its caches are invalidated once (DataTable keys them all on `_update_count`), and
        only the changed rows that are on screen are repainted; the others are drawn from the
        new data when they scroll into view. The DataTable internals this needs are all in
        table_internals.py.
        """
        top = self.scroll_offset.y
        bottom = top + self.size.height  # rows are one line high; generous by the header
        repaint: list[int] = []
        changed = 0
        late: list[str] = []
        for index, row in enumerate(rows):
            if until is not None and index % 32 == 31 and perf_counter() > until:
                late = [row.name for row in rows[index:]]
                break
            old = self._shown.get(row.name)
            if old is None:
                continue  # not a row of this table (the shape changed and a rebuild is due)
            shown = self._what_shows(row, now)
            if shown == old:
                continue
            key = RowKey(row.name)
            cells = row_cells(self, key)
            for index in self._visible():
                if shown[index] != old[index]:
                    cells[COLUMN_KEYS[index]] = self._cell(index, row, shown)
            self._shown[row.name] = shown
            changed += 1
            position = row_position(self, key)
            if position is not None and top <= position <= bottom:
                repaint.append(position)
        if changed:
            cells_written(self)
            if repaint:  # rows are one line high; `refresh_row` sums every row above it
                header = self.header_height if self.show_header else 0
                width = self.size.width
                self.refresh(*(Region(0, p - top + header, width, 1) for p in repaint))
        return late

    def _what_shows(self, row: StepRow, now: float) -> Shown:
        """Plain values that decide each cell, cheap enough to compute for every row per frame."""
        status = row.status
        saved_seconds = row.saved if row.cached else row.call_saved  # a hit, or calls inside
        saved = format_duration(saved_seconds) if saved_seconds else ""
        # A hit did not run, and neither did a step skipped because something upstream failed.
        did_not_run = row.cached or status == StepStatus.SKIPPED
        elapsed = row.elapsed(now)
        took = "-" if did_not_run else format_duration(elapsed)
        if status == StepStatus.RUNNING and elapsed is not None:  # "Saved" means nothing yet
            saved = remaining_text(elapsed, row.expected)
        return (
            status,
            status == StepStatus.RUNNING,
            row.strategy,
            took,
            saved,
            (row.reason or "", status == StepStatus.FAILED, row.cache_flag),
        )

    def _cell(self, index: int, row: StepRow, shown: Shown) -> Text | str:
        """The renderable for column `index`, built from what `_what_shows` said it shows."""
        if index == 0:
            return Text(
                f"{STATUS_SYMBOLS.get(row.status, '?')} {row.status}", style=self._style(row.status)
            )
        if index == 1:
            return Text(
                row.name, style="bold" if shown[1] else "", no_wrap=True, overflow="ellipsis"
            )
        if index == 2:
            return row.strategy
        if index == 3:
            return Text(str(shown[3]), justify="right")
        if index == 4:
            if shown[1]:  # running: the estimate of what is left, not a saving
                return Text(str(shown[4]), justify="right", style=self._style(StepStatus.RUNNING))
            return Text(str(shown[4]), justify="right", style=self._style(StepStatus.CACHED))
        failed = row.status == StepStatus.FAILED
        why = Text(
            row.reason or "",
            style=self._style(row.status) if failed else "",
            no_wrap=True,
            overflow="ellipsis",  # a narrow terminal cuts the reason visibly, never silently
        )
        if row.cache_flag:  # its cache costs more than recomputing it: said beside the reason
            why.append(f" · {FLAG_MARK} {row.cache_flag}", style=theme_style(self.app, "warning"))
        return why

    def _style(self, status: str) -> Style:
        style = self._styles.get(status)
        if style is None:
            style = self._styles[status] = status_style(self.app, status)
        return style
