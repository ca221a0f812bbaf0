"""A warning is a toast the first time only; `W` lists every warning with its step."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.screens.warnings import WarningsScreen

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

UNPICKLABLE = """
import threading


@step(outputs=["lock"])
def make_lock():
    return threading.Lock()


@step(outputs=["n"])
def plain():
    return 1


pipeline = Pipeline("warny", cache_dir=".flowyml/cache").add_step(make_lock).add_step(plain)
"""


def warning_toasts(app) -> list[str]:
    return [n.message for n in app._notifications if n.title == "Warning"]


def test_a_repeated_warning_is_a_toast_only_the_first_time(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(UNPICKLABLE))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        first = warning_toasts(app)
        assert first and all(t.startswith("make_lock: ") for t in first)
        assert all("W lists every warning" in t for t in first)
        await pilot.press("r")
        await wait_for_run(pilot, app, 2)
        assert len(app.model.warnings) == len(first)  # the run had them again ...
        assert warning_toasts(app) == first  # ... but no new toast

    drive(app, scenario)


def test_W_lists_every_warning_with_its_step_and_runs(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(UNPICKLABLE))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("r")
        await wait_for_run(pilot, app, 2)
        await pilot.press("W")
        await wait_until(pilot, lambda: isinstance(app.screen, WarningsScreen), what="the list")
        shown = widget_text(app.screen.query_one("#warnings-list"))
        assert "make_lock" in shown and "cannot be pickled" in shown
        assert "#1-#2 (2 times)" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, WarningsScreen)

    drive(app, scenario)


def test_show_warnings_is_in_the_command_palette(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(), autorun=False)

    async def scenario(pilot) -> None:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Show warnings", "Edit run context", "Stop run"} <= titles

    drive(app, scenario)


def test_a_step_whose_output_cannot_be_cached_says_so_on_every_run(write_pipeline, new_app) -> None:
    from .helpers import table_cell

    app = new_app(write_pipeline(UNPICKLABLE))

    async def scenario(pilot) -> None:
        for number in (1, 2, 3):
            if number > 1:
                await pilot.press("r")
            await wait_for_run(pilot, app, number)
            assert app.model.rows["make_lock"].status == "executed"
            assert table_cell(app, "make_lock", "reason") == "output not cacheable: lock"

    drive(app, scenario)
