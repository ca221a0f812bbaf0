"""The one place that touches DataTable's private state, and the check that it is still there.

The step table updates a thousand rows a frame by writing cells straight into DataTable's data
and invalidating its caches once (`update_cell` repaints the whole table per cell), and tells it
not to measure rows whose widths it already knows. Writing cells moves no row, so the row order
and line offsets DataTable keeps (rebuilt over every row on each cache invalidation: ~25 ms a
frame at 10,000 rows) are carried over to the new cache generation instead. That relies on
private attributes of the Textual release pinned in pyproject.toml; `internals_problems` says
in words what changed when Textual is upgraded, and tests/tui/test_table_internals.py runs it.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

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
    "_ordered_row_cache": LRUCache,  # (row count, _update_count) -> rows in display order
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
    """Cells were written in place: drop every render cache once (they key on the count).

    The row order and line offsets are keyed on the count too, but writing cells changes
    neither: they are carried over, so the next paint does not rebuild them over every row.
    """
    before = table._update_count
    rows = len(table.rows)
    offsets = table._offset_cache.get(before)
    ordered = table._ordered_row_cache.get((rows, before))
    table._update_count = after = before + 1
    if offsets is not None:
        table._offset_cache[after] = offsets
    if ordered is not None:
        table._ordered_row_cache[(rows, after)] = ordered


def skip_measuring_new_rows(table: DataTable[Any]) -> None:
    """The caller sized the columns itself: DataTable need not measure the rows just added."""
    table._new_rows.clear()
    widths_changed(table)


def widths_changed(table: DataTable[Any]) -> None:
    """A column width was set directly: recompute the table's size when next idle."""
    table._require_update_dimensions = True
