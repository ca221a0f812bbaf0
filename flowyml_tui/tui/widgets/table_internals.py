"""The one place that touches DataTable's private state, and the check that it is still there.

The step table updates a thousand rows a frame by writing cells straight into DataTable's data
and invalidating its caches once (`update_cell` repaints the whole table per cell), and tells it
not to measure rows whose widths it already knows. DataTable also works out every row's order
and line offset again whenever that cache count moves (~25 ms at 10,000 rows, on the next paint
after each frame's writes, a resize, a `clear`); `RowsMovedOnlyByRebuilds` keeps them until a
row is really added, removed or moved. That relies on private attributes of the Textual
release pinned in pyproject.toml; `internals_problems` says in words what changed when Textual
is upgraded, and tests/tui/test_table_internals.py runs it.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, NamedTuple

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
}


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
        else:
            continue
        problems.append(
            f"Textual {version('textual')}: DataTable.{name} {problem} (flowyml-tui's step table "
            f"relies on it, as of Textual {CHECKED_AGAINST}); update "
            "flowyml_tui/tui/widgets/table_internals.py for this release or pin Textual back"
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
