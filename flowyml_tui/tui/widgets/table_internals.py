"""The one place that touches DataTable's private state, and the check that it is still there.

The step table updates a thousand rows a frame by writing cells straight into DataTable's data
and invalidating its caches once (`update_cell` repaints the whole table per cell), and tells it
not to measure rows whose widths it already knows. DataTable also works out every row's order
and line offset again whenever that cache count moves (~25 ms at 10,000 rows, on the next paint
after each frame's writes, a resize, a `clear`); `RowsMovedOnlyByRebuilds` keeps them until a
row is really added, removed or moved. Every cell is rendered through Rich again each time
that count moves, too (every cached render keys on it): `CellsRenderedOncePerLook` renders
each distinct look of a cell once and reuses it for every row that shows it. All of that
relies on private attributes and methods of the Textual
release pinned in pyproject.toml; `internals_problems` says in words what changed when Textual
is upgraded, and tests/tui/test_table_internals.py runs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable
from importlib.metadata import version
from typing import Any, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

CHECKED_AGAINST = "8.2.8"
"""The Textual release these internals were read from (pinned in pyproject.toml)."""

INTERNALS: dict[str, type] = {
    "_data": dict,  # RowKey -> {ColumnKey -> cell}: what get_cell and rendering read
    "_row_locations": object,  # TwoWayDict RowKey <-> row index; needs .get(key)
    "_update_count": int,  # every render cache is keyed on it
    "_offset_cache": LRUCache,  # _update_count -> each line's (RowKey, line in row)
    "_ordered_row_cache": LRUCache,  # (row count, _update_count) -> the rows in order
    "_new_rows": set,  # rows whose cells DataTable will measure when next idle
    "_require_update_dimensions": bool,  # recompute virtual size on the next idle
    "_column_locations": object,  # TwoWayDict ColumnKey <-> column index; needs .get_key(i)
    "_show_hover_cursor": bool,  # part of every cell render's cache key
    "_pseudo_class_state": tuple,  # PseudoClasses: focus etc., part of that key too
}
RENDER_CELL_PARAMETERS = ("row_index", "column_index", "base_style", "width", "cursor", "hover")
"""`DataTable._render_cell`'s parameters, which `CellsRenderedOncePerLook` overrides."""


def internals_problems(table: DataTable[Any]) -> list[str]:
    """One line per private attribute that is missing or changed type; empty when all is well."""
    problems = []
    for name, kind in INTERNALS.items():
        if not hasattr(table, name):
            problem = "is gone"
        elif not isinstance(getattr(table, name), kind):
            problem = f"is a {type(getattr(table, name)).__name__}, not a {kind.__name__}"
        elif name == "_row_locations" and not callable(getattr(table._row_locations, "get", None)):
            problem = "has no .get(row_key)"
        elif name == "_column_locations" and not callable(
            getattr(table._column_locations, "get_key", None)
        ):
            problem = "has no .get_key(column_index)"
        else:
            continue
        problems.append(
            f"Textual {version('textual')}: DataTable.{name} {problem} (flowyml-tui's step table "
            f"relies on it, as of Textual {CHECKED_AGAINST}); update "
            "flowyml_tui/tui/widgets/table_internals.py for this release or pin Textual back"
        )
    render_cell = getattr(type(table), "_render_cell", None)
    parameters = tuple(inspect.signature(render_cell).parameters)[1:] if render_cell else ()
    if parameters != RENDER_CELL_PARAMETERS:
        problems.append(
            f"Textual {version('textual')}: DataTable._render_cell takes {parameters or 'nothing'}"
            f", not {RENDER_CELL_PARAMETERS} (flowyml-tui's step table overrides it, as of "
            f"Textual {CHECKED_AGAINST}); update flowyml_tui/tui/widgets/table_internals.py "
            "for this release or pin Textual back"
        )
    return problems


def row_cells(table: DataTable[Any], key: RowKey) -> dict[ColumnKey, Any]:
    """The row's cell values, to write to in place; call `cells_written` afterwards."""
    return table._data[key]


def row_position(table: DataTable[Any], key: RowKey) -> int | None:
    """Where the row is drawn (its index), or None; cheaper than `get_row_index`'s checks."""
    return table._row_locations.get(key)


def cells_written(table: DataTable[Any]) -> None:
    """Cells were written in place: drop every render cache once (they key on the count)."""
    table._update_count += 1


def skip_measuring_new_rows(table: DataTable[Any]) -> None:
    """The caller sized the columns itself: DataTable need not measure the rows just added."""
    table._new_rows.clear()
    widths_changed(table)


def widths_changed(table: DataTable[Any]) -> None:
    """A column width was set directly: recompute the table's size when next idle."""
    table._require_update_dimensions = True


class _Layout(NamedTuple):
    """Where every row is: right for as long as `locations` is the table's and holds `rows`."""

    locations: object
    rows: int
    offsets: list[tuple[RowKey, int]]
    ordered: list[Any]


class RowsMovedOnlyByRebuilds(DataTable[Any]):
    """A DataTable that keeps its row order and line offsets until a row is added, removed
    or moved, instead of working them out over every row each time its cache count moves.

    DataTable keys both on `_update_count`, which also moves for what moves no row: cells
    written (`cells_written`, every frame of a run), a resize, a `clear` (which builds them
    only to empty them). Adding or removing a row changes the row count; removing, sorting and
    clearing replace `_row_locations`: either makes the kept layout stale. Row heights must be
    fixed (no `height=None`): an auto height is measured later and would move rows unseen.
    """

    _kept_layout: _Layout | None = None

    def add_row(self, *cells: Any, height: int | None = 1, **options: Any) -> RowKey:
        if height is None:
            raise ValueError("rows of this table have a fixed height (see table_internals)")
        return super().add_row(*cells, height=height, **options)

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:  # type: ignore[override]
        count, kept = self._update_count, self._kept_layout
        if (
            kept is not None
            and count not in self._offset_cache
            and kept.locations is self._row_locations
            and kept.rows == len(self.rows)
        ):
            self._offset_cache[count] = kept.offsets
            self._ordered_row_cache[(kept.rows, count)] = kept.ordered
        offsets: list[tuple[RowKey, int]] = DataTable._y_offsets.fget(self)  # type: ignore[attr-defined]
        if kept is None or kept.offsets is not offsets:
            self._kept_layout = _Layout(
                self._row_locations, len(self.rows), offsets, self.ordered_rows
            )
        return offsets


def lay_out_rows(table: DataTable[Any]) -> int:
    """Work out every row's line offset now, as part of building the rows, rather than in a
    paint of its own afterwards; returns the rows' height in lines."""
    return len(table._y_offsets)


SegmentLines = list[list[Segment]]
"""A cell's render: its lines of segments (as textual._types has it)."""
LOOKS_KEPT = 2048
"""Distinct cell looks kept: a screenful of rows is a few hundred cells."""


class Lettered(NamedTuple):
    """The look of a cell whose text is its own (a step's name): drawn as any other cell of
    `look` whose text is as long, with the text swapped in. Only for plain ASCII text (one
    cell per character) with no spaces; text cut to fit (an ellipsis) is rendered itself."""

    text: str
    look: Hashable

    @staticmethod
    def fits(text: str) -> bool:
        return text.isascii() and text.isprintable() and " " not in text


class _Template(NamedTuple):
    """One render of a lettered look, and where its text is: the segment that starts with it
    and goes on in spaces only (the cell's fill)."""

    lines: SegmentLines
    line: int
    segment: int
    text: str

    @classmethod
    def of(cls, lines: SegmentLines, text: str) -> _Template | None:
        spots = [
            (y, x)
            for y, line in enumerate(lines)
            for x, segment in enumerate(line)
            if segment.text.startswith(text) and not segment.text[len(text) :].strip(" ")
        ]
        return cls(lines, *spots[0], text) if len(spots) == 1 else None

    def lettered(self, text: str) -> SegmentLines:
        lines = list(self.lines)
        row = lines[self.line] = list(lines[self.line])
        was, style, control = row[self.segment]
        row[self.segment] = Segment(text + was[len(self.text) :], style, control)
        return lines


class CellsRenderedOncePerLook(DataTable[Any]):
    """A DataTable that renders each distinct look of a cell through Rich once, and draws
    every cell that looks the same from that one render.

    DataTable keys its cell renders on the row and on `_update_count`, which moves with every
    frame's writes: each paint rendered every visible cell through Rich again (Padding,
    Styled, a line render; 17-35 ms for a screen of rows that all changed, under load). Most
    cells of a run look like many others (a status, a strategy, a reason), so the render of a
    look (`cell_look`) is kept without the row and column DataTable stamps on each segment
    for mouse clicks, and that stamp is added back per cell. A subclass says what decides a
    cell's look; cells whose look it does not know (None) are rendered as DataTable does.
    Cells must carry no links or meta of their own: those are what the stamp replaces. A
    cell whose text is its own, a step's name, shares the render of every name as long
    (`Lettered`): a screen of new rows renders a handful of names, not each.
    """

    _looks: LRUCache[Hashable, SegmentLines | _Template] | None = None

    def cell_look(self, row_key: RowKey, column_key: ColumnKey) -> Hashable | None:
        """What decides how the cell looks (besides the column, width and cursor): equal for
        cells drawn the same; None to render it as DataTable does."""
        return None

    def forget_looks(self) -> None:
        """Cells now look different for the same `cell_look` (a theme's colours changed)."""
        if self._looks is not None:
            self._looks.clear()

    def notify_style_update(self) -> None:
        """The CSS changed (DataTable drops its renders here too): the cursor or the table
        may be drawn in other colours."""
        super().notify_style_update()
        self.forget_looks()

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        look = None
        if row_index >= 0 and column_index >= 0 and not base_style.meta:
            row_key = self._row_locations.get_key(row_index)
            column_key = self._column_locations.get_key(column_index)
            if row_key is not None and column_key is not None:
                look = self.cell_look(row_key, column_key)
        if look is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        lettered = look if isinstance(look, Lettered) else None
        if lettered is not None:
            look = (Lettered, len(lettered.text), lettered.look)
        key = (
            look,
            column_key,
            width,
            base_style,
            cursor,
            hover,
            row_index < self.fixed_rows or column_index < self.fixed_columns,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
            self.cursor_foreground_priority,
            self.cursor_background_priority,
        )
        if self._looks is None:
            self._looks = LRUCache(LOOKS_KEPT)
        kept = self._looks.get(key)
        if kept is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            kept = [[_unstamped(segment) for segment in line] for line in lines]
            if lettered is not None:
                kept = _Template.of(kept, lettered.text)
                if kept is None:  # cut to fit, or drawn in pieces: not shared
                    return lines
            self._looks[key] = kept
        unstamped = kept.lettered(lettered.text) if isinstance(kept, _Template) else kept
        stamp = Style.from_meta({"row": row_index, "column": column_index})
        return [
            [
                Segment(text, None if style is None else style + stamp, control)
                for text, style, control in line
            ]
            for line in unstamped
        ]


def _unstamped(segment: Segment) -> Segment:
    text, style, control = segment
    return Segment(text, None if style is None else style.clear_meta_and_links(), control)
