"""`$`: the Savings view, from the run records of real runs (issue 28)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from flowyml_tui.tui.savings_chart import bar
from flowyml_tui.tui.screens.savings import SavingsScreen

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(90)

PRICED = """
@step(outputs=["raw"])
def load():
    time.sleep(0.1)
    return list(range(5))


@step(inputs=["raw"], outputs=["total"])
def total(raw):
    return sum(raw)


pipeline = Pipeline("priced", cache_dir=".flowyml/cache", cost_per_hour=3600, currency="EUR")
pipeline.add_step(load).add_step(total)
"""


def cells(table: DataTable, row: int) -> list[str]:
    return [getattr(cell, "plain", str(cell)) for cell in table.get_row_at(row)]


def test_dollar_shows_each_steps_savings_and_a_chart_per_run(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(PRICED))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("r")  # every step a hit: load saves its 0.1 s at 1 EUR a second
        await wait_for_run(pilot, app, 2)

        await pilot.press("dollar_sign")
        await wait_until(pilot, lambda: isinstance(app.screen, SavingsScreen), what="$")
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 3, what="two steps and the total")
        header = [str(column.label) for column in table.columns.values()]
        assert header == ["Step", "Time saved", "Calls saved", "Cost saved", "Cost spent"]
        load, total = cells(table, 0), cells(table, 2)
        assert load[0] == "load" and load[3].endswith(" EUR") and total[0] == "total"
        assert screen.ledger is not None and screen.ledger.runs == 2
        assert screen.ledger.steps[0].savings.cost_saved >= 0.1  # load's 0.1 s, as money
        chart = widget_text(screen.query_one("#savings-chart"))
        assert "Saved per run, newest last, in money" in chart
        first, second = [line.rstrip() for line in chart.splitlines() if line.startswith("#")]
        assert first.startswith("#1 ") and first.endswith(" 0.00 EUR")  # nothing cached yet
        assert second.startswith("#2 " + "█" * 40)  # the biggest saving fills the bar
        assert "Savings of priced over 2 runs" in widget_text(screen.query_one("#savings-title"))

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SavingsScreen), what="close")

    drive(app, scenario, size=(120, 36))


def test_dollar_is_in_the_palette(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(PRICED), autorun=False)

    async def scenario(pilot) -> None:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Savings" in titles

    drive(app, scenario)


def test_bars_are_drawn_to_an_eighth_of_a_cell() -> None:
    assert bar(1.0, 4) == "████"
    assert bar(0.5, 4) == "██"
    assert bar(1 / 32, 4) == "▏"
    assert bar(0.0, 4) == ""
