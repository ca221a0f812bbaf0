"""A save's first step start reaches the screen in a frame of its own: its row is drawn when
the message arrives, not at the next frame tick; nothing a run's start touches re-lays out the
screen before that row is out; the detail pane follows at the next frame.

The frame tick is set to an hour here, so whatever the tests see drawn was drawn by the
message itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import textual.screen
from textual._compositor import CompositorUpdate

from flowyml_tui.engine.events import RunStarted, StepStarted
from flowyml_tui.runner.protocol import PipelinesFound
from flowyml_tui.tui import app as app_module
from flowyml_tui.tui.app import make_app
from flowyml_tui.tui.messages import RunnerUpdate
from flowyml_tui.tui.paint_now import internals_problems
from flowyml_tui.tui.widgets.status_line import StatusLine
from flowyml_tui.tui.widgets.step_table import StepTable

from .helpers import FakeClock, drive, table_cell, widget_text
from .scenes import FILE, RUN, STEPS, done, finished

PIPELINE = 'from flowyml_tui import Pipeline\npipeline = Pipeline("diamond")\n'


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(app_module, "FRAME_SECONDS", 3600.0)
    path = tmp_path / "diamond.py"
    path.write_text(PIPELINE)
    return make_app([path], clock=FakeClock(), watch=False, autorun=False)


def found(app) -> PipelinesFound:
    return PipelinesFound(str(app.files[0]), ("diamond",), "diamond", ())


def started() -> RunStarted:
    """No cache dir: no past durations are looked up, which would mark every row changed."""
    return RunStarted(RUN, "diamond", 0.0, STEPS, FILE, None)


def a_done_run() -> list[object]:
    return [
        started(),
        *(done(s, "executed", "new step", "new_step", 0.1) for s in ("source", "squares")),
        *(done(s, "executed", "new step", "new_step", 0.1) for s in ("cubes", "combine")),
        finished(),
    ]


def edited() -> StepStarted:
    return StepStarted(RUN, "source", 0.0, "code changed: source", "code_changed")


def post(app, messages: list[object]) -> None:
    """As the run worker hands them over: all it read in one go, in one message."""
    app.post_message(RunnerUpdate(tuple(messages), app.run_token))


async def a_settled_run(app, pilot) -> list[object]:
    """A run done and its end settled (the footer recomposes); the layouts from then on."""
    post(app, [found(app), *a_done_run()])
    await pilot.pause()
    app.catch_up()
    layouts: list[object] = []
    app.screen.screen_layout_refresh_signal.subscribe(app.screen, layouts.append)
    for _ in range(50):
        layouts.clear()
        await pilot.pause(0.1)
        if not layouts:
            break
    return layouts


def test_a_started_step_is_drawn_when_its_message_arrives(app) -> None:
    async def scenario(pilot) -> None:
        post(app, [found(app), *a_done_run()])
        await pilot.pause()
        app.catch_up()
        await pilot.pause()
        assert "executed" in table_cell(app, "source", "status")

        post(app, [found(app), started(), edited()])
        await pilot.pause()
        assert "running" in table_cell(app, "source", "status")

    drive(app, scenario)


def test_nothing_a_run_start_touches_re_lays_out_the_screen_before_the_row(app) -> None:
    async def scenario(pilot) -> None:
        layouts = await a_settled_run(app, pilot)

        post(app, [found(app), started(), edited()])
        await pilot.pause(0.1)  # several of Textual's own frames (1/60 s)
        assert "running" in table_cell(app, "source", "status")
        assert layouts == []

    drive(app, scenario)


def test_the_detail_pane_follows_at_the_next_frame(app) -> None:
    async def scenario(pilot) -> None:
        post(app, [found(app), *a_done_run()])
        await pilot.pause()
        app.catch_up()
        table = app.query_one(StepTable)
        table.move_cursor(row=table.get_row_index("squares"), animate=False)
        await pilot.pause()
        app.catch_up()
        await pilot.pause()
        assert "executed" in widget_text(app.query_one("#why"))

        post(app, [started(), edited()])  # a new run: squares waits for source
        await pilot.pause()
        app.catch_up()  # the next frame tick
        await pilot.pause()
        assert "executed" not in widget_text(app.query_one("#why"))

    drive(app, scenario)


def test_the_started_row_reaches_the_terminal_without_waiting_for_the_screens_tick(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The screen's own update tick is set to an hour: what reaches the terminal after the
    step starts was painted by the message itself."""
    monkeypatch.setattr(textual.screen, "UPDATE_PERIOD", 3600.0)
    painted: list[str] = []
    display = app._display

    def spy(screen, renderable) -> None:  # what the app hands the terminal driver
        if isinstance(renderable, CompositorUpdate):
            painted.append(renderable.render_segments(app.console))
        display(screen, renderable)

    async def scenario(pilot) -> None:
        await a_settled_run(app, pilot)
        await asyncio.sleep(0.05)  # the footer's recompose, started by the last pause's tick,
        for _ in range(500):  # holds the app's paints until it is done (Textual's batch)
            if not app._batch_count:
                break
            await asyncio.sleep(0.01)
        app._display = spy
        post(app, [started(), edited()])  # a save: the same pipeline runs again
        for _ in range(200):  # until the app has handled the start (never pilot.pause: it
            await asyncio.sleep(0.01)  # runs the screen's tick itself)
            if "running" in table_cell(app, "source", "status"):
                break
        await asyncio.sleep(0.05)
        assert any("running" in text for text in painted)

    drive(app, scenario)


def test_what_the_paint_relies_on_in_textual_is_there(app) -> None:
    async def scenario(pilot) -> None:
        problems = internals_problems(app.screen)
        assert not problems, "\n".join(problems)

    drive(app, scenario)


def test_a_frame_that_ticks_while_the_screen_is_torn_down_draws_nothing_and_raises_nothing(
    app,
) -> None:
    async def scenario(pilot) -> None:
        post(app, [found(app), *a_done_run()])
        await pilot.pause()
        await app.query_one(StatusLine).remove()  # torn down before the table, as at exit
        app.model.summary_dirty = True
        app.catch_up()
        assert "executed" in table_cell(app, "source", "status")

    drive(app, scenario)
