"""A Textual upgrade that moves DataTable's internals fails here, saying which and what to do."""

from __future__ import annotations

from importlib.metadata import version

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from flowyml_tui.tui.widgets.table_internals import (
    CHECKED_AGAINST,
    RowsMovedOnlyByRebuilds,
    cells_written,
    internals_problems,
    row_cells,
    row_position,
)

from .helpers import drive


def test_the_datatable_internals_the_step_table_writes_are_where_it_expects() -> None:
    problems = internals_problems(DataTable())
    assert not problems, "\n".join(problems)


def test_the_check_names_the_textual_version_and_the_attribute() -> None:
    table = DataTable()
    del table._update_count
    table._new_rows = []
    (gone, changed) = internals_problems(table)
    assert gone.startswith(f"Textual {version('textual')}: DataTable._update_count is gone")
    assert f"as of Textual {CHECKED_AGAINST}" in gone
    assert "DataTable._new_rows is a list, not a set" in changed


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()


def test_a_cell_written_in_place_is_the_cell_the_table_holds() -> None:
    app = OneTable()

    async def scenario(pilot) -> None:
        table = app.query_one(DataTable)
        table.add_column("Step", key="name")
        table.add_row("before", key="a")
        await pilot.pause()
        assert row_position(table, RowKey("a")) == 0
        row_cells(table, RowKey("a"))[ColumnKey("name")] = "after!"
        cells_written(table)
        assert table.get_cell("a", "name") == "after!"
        assert table.get_row_index("a") == 0

    drive(app, scenario)


class KeptTable(App[None]):
    def compose(self) -> ComposeResult:
        yield RowsMovedOnlyByRebuilds()


def test_writes_and_resizes_keep_the_row_order_and_offsets_that_rows_moved_rebuild() -> None:
    """DataTable works both out over every row whenever its cache count moves (~25 ms a paint
    at 10,000 rows); writing cells or resizing moves no row, so the ones it has are kept."""
    app = KeptTable()

    async def scenario(pilot) -> None:
        table = app.query_one(RowsMovedOnlyByRebuilds)
        table.add_column("Step", key="name")
        for name in ("c", "a", "b"):
            table.add_row(f"{name} before", key=name)
        await pilot.pause()
        offsets, ordered = table._y_offsets, table.ordered_rows
        row_cells(table, RowKey("a"))[ColumnKey("name")] = "a after!"
        cells_written(table)
        await pilot.resize_terminal(70, 20)
        await pilot.pause()
        assert table._y_offsets is offsets and table.ordered_rows is ordered
        assert "a after!" in table.render_line(2).text  # the write is drawn: caches dropped

        def order() -> list[str | None]:
            assert [key for key, _ in table._y_offsets] == [r.key for r in table.ordered_rows]
            return [key.value for key, _ in table._y_offsets]

        table.add_row("d before", key="d")  # each of these moves rows: worked out again
        assert order() == ["c", "a", "b", "d"]
        table.sort("name")
        assert order() == ["a", "b", "c", "d"]
        table.remove_row("b")
        assert order() == ["a", "c", "d"]
        table.clear()
        table.add_row("e", key="e")
        assert order() == ["e"]

    drive(app, scenario)


def test_a_row_of_measured_height_is_refused_where_rows_are_kept() -> None:
    with pytest.raises(ValueError, match="fixed height"):
        RowsMovedOnlyByRebuilds().add_row("x", height=None)


def test_the_check_names_a_changed_cell_render_method() -> None:
    class Moved(DataTable):
        def _render_cell(self, row_index, column_index, style, width):  # type: ignore[override]
            return []

    (moved,) = internals_problems(Moved())
    assert "DataTable._render_cell takes ('row_index', 'column_index', 'style', 'width')" in moved
    assert f"as of Textual {CHECKED_AGAINST}" in moved
