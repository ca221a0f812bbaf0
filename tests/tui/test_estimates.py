"""A running step shows how long it has left, from how long its recent executions took."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.estimates import expected_durations, remaining_text

from .helpers import FakeClock, drive, table_cell, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(90)

SLEEPS = """
@step(outputs=["raw"], cache=False)
def nap(s):
    time.sleep(s)
    return s


@step(inputs=["raw"], outputs=["total"])
def total(raw):
    return raw * 2


pipeline = Pipeline("sleepy", cache_dir=".flowyml/cache").add_step(nap).add_step(total)
"""


def test_a_running_step_shows_what_is_left_then_that_it_is_over(write_pipeline, new_app) -> None:
    clock = FakeClock()
    app = new_app(write_pipeline(SLEEPS), context={"s": 1.2}, clock=clock)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1, timeout=30)
        assert app.model.rows["nap"].status == "executed"
        app.context = {"s": 30}  # long enough to look at, stopped below
        await pilot.press("r")
        await wait_until(
            pilot, lambda: table_cell(app, "nap", "saved") == "~2s left", what="~2s left"
        )
        assert app.model.rows["nap"].status == "running"
        await wait_until(
            pilot,
            lambda: "Usually takes 1." in widget_text(app.query_one("#why")),
            what="the Why pane to say how long nap usually takes",
        )
        clock.now += 10  # ten seconds on: longer than the 1.2 s it took last time
        await wait_until(
            pilot, lambda: table_cell(app, "nap", "saved") == "over 2s", what="over 2s"
        )
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.run_active, what="the run to stop")

    drive(app, scenario)


def test_a_step_without_recorded_executions_shows_no_estimate(write_pipeline, new_app) -> None:
    clock = FakeClock()
    app = new_app(write_pipeline(SLEEPS), context={"s": 30}, clock=clock)

    async def scenario(pilot) -> None:
        await wait_until(
            pilot,
            lambda: (
                app.model.rows.get("nap") is not None and app.model.rows["nap"].status == "running"
            ),
            what="nap running",
        )
        await pilot.pause(0.5)
        assert table_cell(app, "nap", "saved") == ""
        await pilot.press("s")
        await wait_until(pilot, lambda: not app.run_active, what="the run to stop")

    drive(app, scenario)


def test_the_estimate_is_the_median_of_recent_executions(write_file, load, tmp_path) -> None:
    pipeline = load(
        write_file(
            "sleepy.py",
            "import time\nfrom flowyml_tui import Pipeline, step\n"
            + SLEEPS.replace('cache_dir=".flowyml/cache"', ""),
        )
    )
    for seconds in (0.05, 0.3, 0.1):
        pipeline.run(context={"s": seconds})
    expected = expected_durations(tmp_path / "cache", "sleepy")
    assert 0.1 <= expected["nap"] < 0.3  # the middle one, not the mean or the last
    assert "total" in expected  # ran once, uncached the first time
    assert expected_durations(tmp_path / "cache", "other") == {}


def test_records_read_once_are_read_again_when_they_change(write_file, load, tmp_path) -> None:
    """Estimates keep what they decoded of each record (they never change once written);
    a record rewritten on disk is decoded again, not served from memory."""
    import json
    import os

    pipeline = load(
        write_file(
            "sleepy.py",
            "import time\nfrom flowyml_tui import Pipeline, step\n"
            + SLEEPS.replace('cache_dir=".flowyml/cache"', ""),
        )
    )
    pipeline.run(context={"s": 0.05})
    assert expected_durations(tmp_path / "cache", "sleepy")["nap"] < 1
    (record,) = (tmp_path / "cache" / "runs").glob("*.json")
    data = json.loads(record.read_text())
    for step in data["steps"]:
        step["duration_seconds"] = 42.0
    record.write_text(json.dumps(data))
    stat = record.stat()
    os.utime(record, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert expected_durations(tmp_path / "cache", "sleepy")["nap"] == 42.0


def test_remaining_text_fits_the_column() -> None:
    assert remaining_text(0.0, None) == ""
    assert remaining_text(3.0, 12.0) == "~9s left"
    assert remaining_text(0.0, 45.0) == "45s left"
    assert remaining_text(0.0, 600.0) == "10m left"
    assert remaining_text(14.0, 12.0) == "over 12s"
    assert all(len(remaining_text(e, x)) <= 8 for e in (0, 5, 100) for x in (1, 59, 3599, 9e4))
