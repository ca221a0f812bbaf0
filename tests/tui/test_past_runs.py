"""`R`: past runs from the run records, read-only; two marked runs are compared."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from flowyml_tui.tui.screens.help import HelpScreen
from flowyml_tui.tui.screens.past_runs import PastRunsScreen

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(90)

NEEDS_N = """
@step(outputs=["raw"])
def load(n):
    return list(range(n))


@step(inputs=["raw"], outputs=["total"])
def total(raw):
    return sum(raw)


pipeline = Pipeline("needs_n", cache_dir=".flowyml/cache").add_step(load).add_step(total)
"""


def cells(table: DataTable, row: int) -> list[str]:
    return [getattr(cell, "plain", str(cell)) for cell in table.get_row_at(row)]


def detail(app) -> str:
    return widget_text(app.screen.query_one("#runs-detail"))


def test_R_lists_the_runs_and_compares_two_marked_ones(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(NEEDS_N), context={"n": 4})

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        app.context = {"n": 6}
        for number in (2, 3):
            await pilot.press("r")
            await wait_for_run(pilot, app, number)

        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, PastRunsScreen), what="R")
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 3, what="three runs listed")
        # newest first: mark, number, started, took, hits / executed / failed, status, context
        newest, oldest = cells(table, 0), cells(table, 2)
        assert newest[1] == "#3" and newest[4:7] == ["2 / 0 / 0", "succeeded", "n=6"]
        assert oldest[1] == "#1" and oldest[4:7] == ["0 / 2 / 0", "succeeded", "n=4"]
        assert "Run #3" in detail(app) and "cached" in detail(app)

        await pilot.press("space")  # #3
        await pilot.press("down", "down", "space")  # #1
        await pilot.pause()
        assert cells(table, 0)[0] == "B" and cells(table, 2)[0] == "A"  # the older is A
        text = detail(app)
        assert "Comparing #1" in text and "→ #3" in text
        assert "Context changed: n 4 → 6" in text
        assert "executed → cached" in text
        assert "2 of 2 steps changed status" in text

        await pilot.press("space")  # unmark #1: back to the highlighted run
        await pilot.pause()
        assert "Run #1" in detail(app) and "Context: n=4" in detail(app)

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PastRunsScreen), what="close")

    drive(app, scenario, size=(120, 36))


def test_R_without_records_says_so(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(NEEDS_N), autorun=False)

    async def scenario(pilot) -> None:
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, PastRunsScreen), what="R")
        await wait_until(pilot, lambda: "No runs recorded yet" in detail(app), what="empty")

    drive(app, scenario)


def test_R_is_in_the_help_and_the_palette(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(NEEDS_N), autorun=False)

    async def scenario(pilot) -> None:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Past runs" in titles
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert ("R", "Past runs", "past_runs") in app.screen.rows
        assert "R lists the runs" in widget_text(app.screen.query_one("#help-intro"))

    drive(app, scenario)
