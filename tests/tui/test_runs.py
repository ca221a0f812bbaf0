"""Saves drive runs; failures of user code are shown, never fatal, and the next save recovers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Select

from flowyml_tui.tui.widgets.error_panel import ErrorPanel
from flowyml_tui.tui.widgets.pipeline_selector import PipelineSelector, target_value
from flowyml_tui.tui.widgets.step_table import StepTable

from .conftest import CHAIN
from .helpers import drive, statuses, table_cell, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

SLOW = """
@step(outputs=["raw"])
def load():
    return [1, 2, 3]


@step(inputs=["raw"], outputs=["slow"])
def slow(raw):
    time.sleep(30)
    return sum(raw)


pipeline = Pipeline("slowpoke")
pipeline.add_step(load).add_step(slow)
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_save_reruns_only_the_changed_step_and_shows_its_diff(write_pipeline, new_app) -> None:
    path = write_pipeline()
    app = new_app(path, watch=True)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        edit(path, "x * 2 for x in raw", "x * 3 for x in raw")
        await wait_for_run(pilot, app, 2)
        rows = app.model.rows
        assert statuses(app) == {"load": "cached", "double": "executed", "total": "executed"}
        assert rows["double"].reason_kind == "code_changed"
        assert "-    return [x * 2 for x in raw]" in (rows["double"].diff or "")
        assert "+    return [x * 3 for x in raw]" in (rows["double"].diff or "")
        assert rows["total"].reason_kind == "upstream_changed"
        table = app.query_one(StepTable)
        table.move_cursor(row=table.get_row_index("double"))
        await wait_until(
            pilot,
            lambda: "x * 3" in widget_text(app.query_one("#why")),
            what="the diff in the Why tab",
        )

    drive(app, scenario)


def test_a_save_during_a_run_cancels_it_and_starts_again(write_pipeline, new_app) -> None:
    path = write_pipeline(SLOW)
    app = new_app(path, watch=True)

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: statuses(app).get("slow") == "running", what="running")
        assert "running" in table_cell(app, "slow", "status")
        assert table_cell(app, "slow", "time")  # the live timer shows something
        first_child = app.child_pid
        edit(path, "time.sleep(30)", "time.sleep(0)")
        await wait_for_run(pilot, app, 2)
        assert statuses(app) == {"load": "cached", "slow": "executed"}
        assert app.runs_started == 2
        assert not alive(first_child)

    drive(app, scenario)


def test_a_syntax_error_keeps_the_last_run_and_the_next_save_recovers(
    write_pipeline, new_app
) -> None:
    path = write_pipeline()
    app = new_app(path, watch=True)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        good = path.read_text()
        path.write_text(good.replace("def total(doubled):", "def total(doubled)"))
        panel = app.query_one(ErrorPanel)
        await wait_until(pilot, lambda: panel.has_class("-visible"), what="the error panel")
        shown = widget_text(panel)
        assert "demo.py:" in shown and "Could not load" in shown
        assert statuses(app) == {"load": "executed", "double": "executed", "total": "executed"}
        path.write_text(good.replace("x * 2", "x * 5"))
        await wait_until(pilot, lambda: not panel.has_class("-visible"), what="recovery")
        await wait_for_run(pilot, app, 2)
        assert statuses(app)["double"] == "executed"

    drive(app, scenario)


def test_a_crashing_step_fails_and_its_downstream_is_skipped(write_pipeline, new_app) -> None:
    path = write_pipeline(CHAIN.replace('print("doubling", len(raw))', 'raise ValueError("bad")'))
    app = new_app(path)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        assert statuses(app) == {"load": "executed", "double": "failed", "total": "skipped"}
        assert "ValueError" in (app.model.rows["double"].error or "")
        table = app.query_one(StepTable)
        table.move_cursor(row=table.get_row_index("double"))
        app.query_one("#detail-tabs").active = "tab-logs"
        await wait_until(
            pilot,
            lambda: "ValueError" in widget_text(app.query_one("#logs")),
            what="the traceback in the Logs tab",
        )

    drive(app, scenario)


def test_a_hard_exit_in_a_step_is_shown_with_file_and_line(write_pipeline, new_app) -> None:
    path = write_pipeline(CHAIN.replace('print("doubling", len(raw))', "import os; os._exit(3)"))
    app = new_app(path)

    async def scenario(pilot) -> None:
        panel = app.query_one(ErrorPanel)
        await wait_until(pilot, lambda: panel.has_class("-visible"), what="the error panel")
        shown = widget_text(panel)
        assert "exited (code 3)" in shown and "demo.py:" in shown
        assert statuses(app)["double"] == "failed"
        # The process is gone: the step after it will not run, and did not take 0µs.
        assert statuses(app)["total"] == "skipped"
        assert table_cell(app, "total", "time") == "-"
        await pilot.press("r")  # the app is still alive and runs again
        await wait_until(pilot, lambda: app.runs_started == 2 and not app.run_active)

    drive(app, scenario)


def test_the_selector_switches_between_pipelines_of_one_file(write_pipeline, new_app) -> None:
    path = write_pipeline(
        """
        @step(outputs=["a"])
        def first():
            return 1

        @step(outputs=["b"])
        def second():
            return 2

        one = Pipeline("one").add_step(first)
        two = Pipeline("two").add_step(second)
        """
    )
    app = new_app(path)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        selector = app.query_one(PipelineSelector)
        assert selector.display
        assert app.model.pipeline == "one"
        selector.value = target_value(path, "two")
        await wait_until(
            pilot,
            lambda: app.model.pipeline == "two" and app.model.finished,
            what="the second pipeline to run",
        )
        assert statuses(app) == {"second": "executed"}
        assert selector.value != Select.BLANK

    drive(app, scenario)


def test_w_pauses_watching_and_resuming_runs_the_saves_made_meanwhile(
    write_pipeline, new_app
) -> None:
    path = write_pipeline()
    app = new_app(path, watch=True)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("w")
        assert app.activity == "paused"
        edit(path, "x * 2 for x in raw", "x * 7 for x in raw")
        await wait_until(pilot, lambda: app.pending_saves, what="the save to be noted")
        assert app.runs_started == 1
        await pilot.press("w")
        await wait_for_run(pilot, app, 2)
        assert app.model.rows["double"].reason_kind == "code_changed"

    drive(app, scenario)
