"""Chatty steps: the Logs tab shows a tail, `L` opens every line from the run's log file, and a
cached step shows what the run that produced its entry printed."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import Log

from flowyml_tui.tui.screens.full_log import FullLogScreen

from .conftest import CHAIN
from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(90)

CHATTY = """
@step(outputs=["n"])
def chatty():
    for i in range(3000):
        print(f"line {i}")
    print("needle in the haystack")
    for i in range(3000, 3500):
        print(f"line {i}")
    return 1


pipeline = Pipeline("chatty")
pipeline.add_step(chatty)
"""


async def select(pilot, app, step: str) -> None:
    table = app.query_one("#steps")
    table.move_cursor(row=table.get_row_index(step))
    app.query_one("#detail-tabs").active = "tab-logs"
    await pilot.pause()


async def open_full_log(pilot, app, step: str) -> FullLogScreen:
    """After the first run: select `step`, press L, and return the full-log screen."""
    await wait_for_run(pilot, app, 1, timeout=40)
    await select(pilot, app, step)
    await pilot.press("L")
    await wait_until(pilot, lambda: isinstance(app.screen, FullLogScreen), what="the log")
    return app.screen


def test_the_logs_tab_shows_the_tail_and_counts_the_earlier_lines(write_pipeline, new_app):
    app = new_app(write_pipeline(CHATTY))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1, timeout=40)
        await select(pilot, app, "chatty")
        await wait_until(
            pilot,
            lambda: "line 3499" in widget_text(app.query_one("#logs")),
            what="the last line in the Logs tab",
        )
        assert app.model.rows["chatty"].log_lines == 3501  # every line counted, not only kept
        shown = widget_text(app.query_one("#logs"))
        assert "3301 earlier lines — L opens the full log" in shown

    drive(app, scenario)


def test_l_opens_every_line_from_the_log_file_and_slash_searches_it(write_pipeline, new_app):
    app = new_app(write_pipeline(CHATTY))

    async def scenario(pilot) -> None:
        screen = await open_full_log(pilot, app, "chatty")
        assert screen.path is not None and screen.path.name == "chatty.log"
        await wait_until(pilot, lambda: len(screen.lines) == 3501, what="all 3501 lines")
        assert screen.lines[0] == "line 0"
        await pilot.press("slash", *"needle", "enter")
        assert screen.match_line == 3000
        assert not screen.following  # a match stops following so it stays on screen
        assert screen.query_one(Log).scroll_offset.y > 2000
        await pilot.press("f")
        assert screen.following
        await pilot.press("escape")
        assert not isinstance(app.screen, FullLogScreen)

    drive(app, scenario)


def test_a_cached_step_shows_the_log_of_the_run_that_produced_it(write_pipeline, new_app):
    app = new_app(write_pipeline(CHAIN))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("r")
        await wait_for_run(pilot, app, 2)
        first_run = app.model.rows["double"]
        assert first_run.cached and not first_run.logs
        await select(pilot, app, "double")
        await wait_until(
            pilot,
            lambda: "doubling 5" in widget_text(app.query_one("#logs")),
            what="the producing run's output",
        )
        shown = widget_text(app.query_one("#logs"))
        assert "which produced this cached result" in shown
        assert "No output captured" not in shown

    drive(app, scenario)


def test_ampersand_keeps_only_matching_lines_and_marks_them_and_empty_shows_all(
    write_pipeline, new_app
):
    app = new_app(write_pipeline(CHATTY))

    async def scenario(pilot) -> None:
        screen = await open_full_log(pilot, app, "chatty")
        await wait_until(pilot, lambda: len(screen.lines) == 3501, what="all 3501 lines")
        await pilot.press("ampersand", *"NEEDLE", "enter")  # case does not matter
        assert list(screen.lines) == ["needle in the haystack"]
        assert len(screen.all_lines) == 3501
        status = widget_text(screen.query_one("#full-log-status"))
        assert "1 of 3501 lines holding 'NEEDLE'" in status
        marked = Text("a needle here")
        screen.query_one(Log).highlighter.highlight(marked)
        assert [(span.start, span.end) for span in marked.spans] == [(2, 8)]
        await pilot.press("ampersand", "ctrl+u", "enter")  # emptied: every line again
        assert len(screen.lines) == 3501

    drive(app, scenario)


UNFINISHED = """
@step(outputs=["n"])
def prompt():
    print("first line")
    print("waiting for input: ", end="")
    return 1


pipeline = Pipeline("unfinished")
pipeline.add_step(prompt)
"""


def test_a_last_line_without_a_newline_shows_once_the_log_is_quiet(write_pipeline, new_app):
    app = new_app(write_pipeline(UNFINISHED))

    async def scenario(pilot) -> None:
        screen = await open_full_log(pilot, app, "prompt")
        await wait_until(
            pilot,
            lambda: list(screen.lines) == ["first line", "waiting for input: "],
            what="the unfinished last line",
        )

    drive(app, scenario)
