"""`s` stops a runaway run at once; `w` only pauses re-runs on save and says so."""

from __future__ import annotations

import os

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from flowyml_tui.tui.widgets.status_line import StatusLine

from .helpers import drive, statuses, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

RUNAWAY = """
@step(outputs=["raw"])
def load():
    return [1, 2, 3]


@step(inputs=["raw"], outputs=["forever"])
def forever(raw):
    while True:
        time.sleep(0.05)


pipeline = Pipeline("runaway").add_step(load).add_step(forever)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_s_stops_a_runaway_step_and_what_finished_stays_cached(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(RUNAWAY))

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: statuses(app).get("forever") == "running", what="running")
        child = app.child_pid
        assert child is not None
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.run_active, timeout=5, what="the run to stop")
        assert not alive(child)
        assert statuses(app) == {"load": "executed", "forever": "pending"}
        await wait_until(
            pilot, lambda: "stopped" in widget_text(app.query_one(StatusLine)), what="stopped"
        )
        await pilot.press("r")  # the next run takes what the stopped one finished from the cache
        await wait_until(pilot, lambda: statuses(app).get("forever") == "running", what="again")
        assert statuses(app)["load"] == "cached"
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.run_active, timeout=5, what="the second stop")

    drive(app, scenario)


def test_a_stopped_run_leaves_a_record_with_the_steps_done_so_far(
    write_pipeline, new_app, tmp_path
) -> None:
    """The past-run list and the duration averages count a stopped run too."""
    from flowyml_tui.engine.history.records import list_runs, load_run

    app = new_app(write_pipeline(RUNAWAY))
    cache = tmp_path / "cache"

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: statuses(app).get("forever") == "running", what="running")
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.run_active, timeout=5, what="the run to stop")

    drive(app, scenario)
    (summary,) = list_runs(cache)
    assert summary.status == "stopped"
    record = load_run(cache, summary.run_id)
    steps = {step["name"]: step for step in record["steps"]}
    assert steps["load"]["status"] == "executed"
    assert steps["load"]["duration_seconds"] > 0
    assert steps["forever"]["status"] == "skipped"
    assert steps["forever"]["reason"] == "stopped before it finished"
    assert record["duration_seconds"] > 0


def test_stop_run_is_in_the_command_palette(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(), autorun=False)

    async def scenario(pilot) -> None:
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert "Stop run" in commands and "(s)" in commands["Stop run"]

    drive(app, scenario)


def test_w_pauses_saves_but_the_run_goes_on_and_the_footer_says_so(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(RUNAWAY), watch=True)

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: statuses(app).get("forever") == "running", what="running")
        shown = [widget_text(key) for key in app.query_one(Footer).query(FooterKey)]
        assert any("Pause saves" in text for text in shown)
        await pilot.press("w")
        await pilot.pause(0.3)
        assert app.paused and app.run_active and statuses(app)["forever"] == "running"
        assert any("goes on" in n.message for n in app._notifications)
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.run_active, timeout=5, what="the stop")

    drive(app, scenario)


def test_s_with_no_run_in_progress_says_so(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline())

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("s")
        await pilot.pause()
        assert any("No run in progress" in n.message for n in app._notifications)
        assert app.activity != "stopped"

    drive(app, scenario)
