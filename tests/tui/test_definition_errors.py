"""A file that defines no runnable pipeline reads as the user's mistake: what, where, what to do."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.widgets.error_panel import ErrorPanel

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

NO_PIPELINE = """
x = 1
"""

CYCLE = """
@step(inputs=["b"], outputs=["a"])
def one(b):
    return b


@step(inputs=["a"], outputs=["b"])
def two(a):
    return a


pipeline = Pipeline("cyc").add_step(one).add_step(two)
"""

DUPLICATE = """
@step(outputs=["a"])
def one():
    return 1


@step(outputs=["a"])
def two():
    return 2


pipeline = Pipeline("dup").add_step(one).add_step(two)
"""

MISSING = """
@step(outputs=["a"])
def one(n):
    return n


pipeline = Pipeline("miss").add_step(one)
"""

IMPORT = """
import nosuchmodule_xyz

pipeline = Pipeline("imp")
"""

CASES = {
    "no pipeline": (NO_PIPELINE, "No pipeline in demo.py", "demo.py", "Create one"),
    "cycle": (CYCLE, "The steps form a cycle", "demo.py:5", "one -> two -> one"),
    "duplicate": (DUPLICATE, "Two steps produce the same output", "demo.py:10", "Rename one"),
    "missing": (MISSING, "A step parameter has no value", "demo.py:5", "Press C to set it"),
    "import": (IMPORT, "Could not import nosuchmodule_xyz", "demo.py:4", "Install it"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_definition_error_says_what_where_and_what_to_do(case, write_pipeline, new_app) -> None:
    body, title, location, advice = CASES[case]
    app = new_app(write_pipeline(body))

    async def scenario(pilot) -> None:
        panel = app.query_one(ErrorPanel)
        await wait_until(pilot, lambda: advice in widget_text(panel), what="the advice")
        shown = widget_text(panel)
        assert title in shown and location in shown and advice in shown
        for internal in ("flowyml_tui/", "<frozen", "Traceback", "PipelineLoadError", "CycleError"):
            assert internal not in shown
        assert "stays below" not in shown  # there is no earlier run to point at

    drive(app, scenario)


def test_a_definition_error_is_wrapped_to_the_width_not_cut(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(MISSING))

    async def scenario(pilot) -> None:
        panel = app.query_one(ErrorPanel)
        await wait_until(pilot, lambda: "then save" in widget_text(panel), what="the advice")
        shown = " ".join(widget_text(panel).replace("│", " ").split())
        assert "the function gives it no default" in shown
        assert "or add it to inputs=[...]; then save." in shown

    drive(app, scenario, size=(80, 24))


def test_after_a_good_run_the_panel_says_the_last_good_run_stays_below(
    write_pipeline, new_app
) -> None:
    path = write_pipeline()
    app = new_app(path, watch=True)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        path.write_text(path.read_text().replace("def double(raw):", "def double(raw, n):"))
        panel = app.query_one(ErrorPanel)
        await wait_until(pilot, lambda: "stays below" in widget_text(panel), what="the last line")
        assert "The last good run stays below" in widget_text(panel)

    drive(app, scenario)
