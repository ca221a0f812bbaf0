"""A Textual upgrade that moves DataTable's internals fails here, saying which and what to do."""

from __future__ import annotations

from importlib.metadata import version

from textual.app import App, ComposeResult
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from flowyml_tui.tui.widgets.table_internals import (
    CHECKED_AGAINST,
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


def test_writing_cells_keeps_the_row_order_and_line_offsets_instead_of_rebuilding_them() -> None:
    """DataTable rebuilds both over every row when its cache count moves (~25 ms a paint at
    10,000 rows); writing cells moves no row, so the ones it has are carried over."""
    app = OneTable()

    async def scenario(pilot) -> None:
        table = app.query_one(DataTable)
        table.add_column("Step", key="name")
        for name in ("a", "b", "c"):
            table.add_row(f"{name} before", key=name)
        await pilot.pause()
        offsets, ordered = table._y_offsets, table.ordered_rows
        row_cells(table, RowKey("b"))[ColumnKey("name")] = "b after!"
        cells_written(table)
        assert table._y_offsets is offsets and table.ordered_rows is ordered
        await pilot.pause()
        assert "b after!" in table.render_line(2).text  # the write is drawn: caches dropped
        table.add_row("d before", key="d")  # a new row is a new layout: nothing carried over
        await pilot.pause()
        assert [key.value for key, _ in table._y_offsets] == ["a", "b", "c", "d"]
        assert [row.key.value for row in table.ordered_rows] == ["a", "b", "c", "d"]

    drive(app, scenario)
