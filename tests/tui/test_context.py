"""Run context: `-c KEY=VALUE` as `run` takes it, `C` edits it and re-runs, the values show."""

from __future__ import annotations

import argparse

import pytest
from textual.widgets import TextArea

from flowyml_tui.cli import tui as cli_tui
from flowyml_tui.tui.screens.context_editor import ContextScreen
from flowyml_tui.tui.widgets.status_line import StatusLine

from .helpers import drive, statuses, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

NEEDS_N = """
@step(outputs=["raw"])
def load(n):
    print("n is", n)
    return list(range(n))


@step(inputs=["raw"], outputs=["total"])
def total(raw):
    return sum(raw)


pipeline = Pipeline("needs_n", cache_dir=".flowyml/cache").add_step(load).add_step(total)
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli_tui.add_arguments(parser)
    return parser.parse_args(argv)


def test_dash_c_is_accepted_and_reaches_the_app(write_pipeline) -> None:
    path = write_pipeline(NEEDS_N)
    app = cli_tui.build_app(parse(str(path), "-c", "n=10", "--context", "name=abc"))
    assert not isinstance(app, int)
    assert app.context == {"n": 10, "name": "abc"}


def test_a_bad_dash_c_is_a_usage_error(write_pipeline, capsys) -> None:
    path = write_pipeline(NEEDS_N)
    assert cli_tui.build_app(parse(str(path), "-c", "oops")) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_the_context_reaches_the_run_and_shows_in_the_status_line(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(NEEDS_N), context={"n": 4})

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        assert statuses(app) == {"load": "executed", "total": "executed"}
        assert "n is 4" in "".join(app.model.rows["load"].logs)
        assert "n=4" in widget_text(app.query_one(StatusLine))

    drive(app, scenario)


def test_C_edits_the_context_and_applying_reruns_with_it(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(NEEDS_N), context={"n": 4})

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ContextScreen), what="the editor")
        area = app.screen.query_one(TextArea)
        assert area.text == "n=4"
        area.text = "n=oops=\n1bad"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ContextScreen)  # a bad line keeps the editor open
        assert "1bad" in widget_text(app.screen.query_one("#context-error"))
        area.text = "n=6\n# a comment"
        await pilot.press("ctrl+s")
        await wait_for_run(pilot, app, 2)
        assert app.context == {"n": 6}
        assert "n is 6" in "".join(app.model.rows["load"].logs)
        assert statuses(app)["load"] == "executed"
        assert "n=6" in widget_text(app.query_one(StatusLine))

    drive(app, scenario)


def test_escape_leaves_the_context_as_it_was(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(NEEDS_N), context={"n": 4}, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ContextScreen), what="the editor")
        hint = widget_text(app.screen.query_one("#context-keys"))
        assert "listed once the pipeline has run" in hint  # no run yet: no steps known
        app.screen.query_one(TextArea).text = "n=9"
        await pilot.press("escape")
        await pilot.pause()
        assert app.context == {"n": 4} and app.runs_started == 0

    drive(app, scenario)


TAKES_KEYS = """
@step(outputs=["raw"])
def load(n, scale=2.5):
    return [x * scale for x in range(n)]


@step(inputs=["raw"], outputs=["total"])
def total(raw, n=3, label="sum"):
    return sum(raw[:n])


pipeline = Pipeline("takes_keys", cache_dir=".flowyml/cache").add_step(load).add_step(total)
"""


def test_C_lists_the_keys_the_steps_take_with_defaults_and_current_values(
    write_pipeline, new_app
) -> None:
    app = new_app(write_pipeline(TAKES_KEYS), context={"n": 4})

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, ContextScreen), what="the editor")
        listed = widget_text(app.screen.query_one("#context-keys"))
        assert "n = 4  (load: no default; total: default 3)" in listed
        assert "scale = not set  (load: default 2.5)" in listed
        assert "label = not set  (total: default 'sum')" in listed
        assert "raw" not in listed  # an input, not a context key

    drive(app, scenario)
