"""`/` filters the step table by name or status, `1`-`4` open the detail tabs, help lists j/k."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.screens.help import HelpScreen
from flowyml_tui.tui.widgets.step_table import StepTable

from .conftest import CHAIN
from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

FAILING = CHAIN.replace('print("doubling", len(raw))', 'raise ValueError("no doubling today")')


def rows_shown(app) -> list[str]:
    table = app.query_one(StepTable)
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


def test_slash_filters_by_name_and_esc_brings_every_step_back(write_pipeline, new_app):
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("slash", *"tot")
        await wait_until(pilot, lambda: rows_shown(app) == ["total"], what="only total")
        assert app.query_one(StepTable).border_title == "Steps · /tot · 1 of 3"
        await pilot.press("enter")  # keeps the filter, back in the table
        assert app.focused is app.query_one(StepTable) and rows_shown(app) == ["total"]
        await pilot.press("slash", "escape")
        await wait_until(pilot, lambda: len(rows_shown(app)) == 3, what="every step again")
        assert app.query_one(StepTable).border_title == "Steps"

    drive(app, scenario)


def test_a_status_word_filters_by_status(write_pipeline, new_app):
    app = new_app(write_pipeline(FAILING))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("slash", *"failed", "enter")
        await wait_until(pilot, lambda: rows_shown(app) == ["double"], what="the failed step")
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"skipped", "enter")
        await wait_until(pilot, lambda: rows_shown(app) == ["total"], what="the skipped step")

    drive(app, scenario)


def test_number_keys_open_the_detail_tabs(write_pipeline, new_app):
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        tabs = app.query_one("#detail-tabs")
        for key, tab in (("2", "tab-logs"), ("3", "tab-output"), ("4", "tab-history")):
            await pilot.press(key)
            assert tabs.active == tab
        await pilot.press("1")
        assert tabs.active == "tab-why"

    drive(app, scenario)


def test_help_lists_j_and_k_and_the_new_keys(write_pipeline, new_app):
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        keys = {row[2]: row[0] for row in app.screen.rows}
        assert keys["table.down"] == "j" and keys["table.up"] == "k"
        assert keys["filter"] == "/" and keys["full_log"] == "L"
        intro = " ".join(widget_text(app.screen.query_one("#help-intro")).split())
        assert "1-4 open the Why, Logs, Output and History tabs" in intro

    drive(app, scenario)
