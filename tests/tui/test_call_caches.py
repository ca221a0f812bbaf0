"""A step's call caches in the workbench: the Why pane counts its hits, misses and time saved,
and `x` empties the call caches the selected step used (real runs, real worker processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import drive, wait_for_run, wait_until, widget_text
from .test_keys import select

pytestmark = pytest.mark.timeout(90)

CALLING = """
from pathlib import Path
from flowyml_tui import CachePrimitive

CALLS = Path(__file__).with_name("calls.log")

def ask_llm(prompt, context):
    with CALLS.open("a") as log:
        log.write(prompt + "\\n")
    time.sleep(0.05)
    return prompt.upper()

llm = CachePrimitive(ask_llm, name="fake-llm")

@step(outputs=["answers"])
def ask():
    return [llm.call(prompt) for prompt in ["one", "two"]]

@step(inputs=["answers"], outputs=["joined"])
def join(answers):
    return " ".join(answers)

pipeline = Pipeline("calling", cache_dir=".flowyml/cache")
pipeline.add_step(ask).add_step(join)
"""


def test_why_pane_counts_calls_and_x_clears_the_steps_call_caches(
    write_pipeline, new_app, tmp_path: Path
) -> None:
    app = new_app(write_pipeline(CALLING))
    calls_log = tmp_path / "calls.log"

    def why() -> str:
        return widget_text(app.query_one("#why"))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "ask")
        await wait_until(pilot, lambda: "Calls: 0 hit / 2 miss" in why(), what="two misses")

        await pilot.press("i")  # the step runs again: its calls come from the call cache
        await wait_for_run(pilot, app, 2)
        await wait_until(pilot, lambda: "Calls: 2 hit / 0 miss · saved" in why(), what="hits")
        assert calls_log.read_text().split() == ["one", "two"]

        await pilot.press("x")
        await wait_until(
            pilot,
            lambda: any("Cleared 2 call-cache entries of ask" in n.message
                        for n in app._notifications),
            what="the clear notification",
        )  # fmt: skip
        await pilot.press("i")
        await wait_for_run(pilot, app, 3)
        await wait_until(pilot, lambda: "Calls: 0 hit / 2 miss" in why(), what="misses again")
        assert calls_log.read_text().split() == ["one", "two", "one", "two"]

    drive(app, scenario)


def test_x_on_a_step_without_call_caches_says_so(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "double")
        await pilot.press("x")
        await wait_until(
            pilot,
            lambda: any("used no call cache" in n.message for n in app._notifications),
            what="the notification",
        )

    drive(app, scenario)


def test_saved_counts_the_call_caches_and_the_detail_splits_it(write_pipeline, new_app) -> None:
    """An invalidated step whose calls all hit saved their time: the status line's "saved"
    includes it (as the run record's totals do), and the step detail says where it came from."""
    from flowyml_tui.engine.history.records import load_run
    from flowyml_tui.tui.widgets.status_line import StatusLine

    from .helpers import table_cell

    app = new_app(write_pipeline(CALLING))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await select(pilot, app, "ask")
        await pilot.press("i")  # the step runs again: its calls come from the call cache
        await wait_for_run(pilot, app, 2)
        row = app.model.rows["ask"]
        assert row.status == "executed" and row.call_saved >= 0.1  # two calls of 0.05s
        totals = app.model.totals()
        assert totals.call_saved_seconds == row.call_saved
        assert totals.saved_seconds == totals.step_saved_seconds + row.call_saved
        assert totals.saved_seconds > 0
        await wait_until(
            pilot, lambda: "saved" in widget_text(app.query_one(StatusLine)), what="saved"
        )
        assert table_cell(app, "ask", "saved") != ""
        await wait_until(
            pilot, lambda: "inside the step: its call caches" in widget_text(
                app.query_one("#why")), what="the split",
        )  # fmt: skip
        record = load_run(app.model.cache_dir, app.model.run_id)
        assert record["totals"]["call_saved_seconds"] == pytest.approx(row.call_saved)
        assert record["totals"]["saved_seconds"] >= row.call_saved

    drive(app, scenario)
