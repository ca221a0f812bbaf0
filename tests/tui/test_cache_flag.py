"""The step table flags a step whose cache costs more than recomputing it (issue 28)."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.screens.savings import SavingsScreen
from flowyml_tui.tui.widgets.step_table import FLAG_MARK, StepTable

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(120)

# 30 MB of zeros: made in microseconds, tens of milliseconds to store and to load.
NOT_WORTH_IT = """
@step(outputs=["tokens"])
def tokenize():
    return bytes(30_000_000)


@step(inputs=["tokens"], outputs=["count"], cache=False)
def count(tokens):
    return len(tokens)


@step(outputs=["model"])
def train():
    time.sleep(0.2)
    return "small"


pipeline = Pipeline("flagged", cache_dir=".flowyml/cache")
pipeline.add_step(tokenize).add_step(count).add_step(train)
"""


def detail_text(app) -> str:
    return widget_text(app.query_one("#why"))


def why(table: StepTable, name: str) -> str:
    cell = table.get_cell(name, "reason")
    return getattr(cell, "plain", str(cell))


def test_a_hit_that_costs_more_than_recomputing_is_flagged_in_the_why_column(
    write_pipeline, new_app
) -> None:
    app = new_app(write_pipeline(NOT_WORTH_IT))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        table = app.query_one(StepTable)
        assert FLAG_MARK not in why(table, "tokenize")  # no hit measured yet
        await pilot.press("r")  # tokenize is a hit, and count loads its 30 MB
        await wait_for_run(pilot, app, 2)
        await wait_until(
            pilot, lambda: FLAG_MARK in why(table, "tokenize"), what="the flag on tokenize"
        )
        flagged = why(table, "tokenize")
        assert flagged.startswith("cached · ⚠ caching `tokenize` costs ")
        assert ", recomputing " in flagged
        assert app.model.rows["tokenize"].cache_flag is not None
        assert FLAG_MARK not in why(table, "train")  # 0.2 s of work: its cache pays
        table.move_cursor(row=table.get_row_index("tokenize"))
        await wait_until(
            pilot,
            lambda: "Not worth caching: caching `tokenize` costs" in detail_text(app),
            what="the flag in the step's detail",
        )

        await pilot.press("dollar_sign")  # the Savings view lists it under its chart
        await wait_until(pilot, lambda: isinstance(app.screen, SavingsScreen), what="$")
        await wait_until(
            pilot,
            lambda: (
                "⚠ caching `tokenize` costs" in widget_text(app.screen.query_one("#savings-chart"))
            ),
            what="the flag in the Savings view",
        )

    drive(app, scenario, size=(200, 36))
