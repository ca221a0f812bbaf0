"""The main screens, pixel for pixel: fixed events, a fixed clock, one theme.

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flowyml_tui.engine.history.records import write_record

from . import scenes
from .helpers import FakeClock

pytestmark = pytest.mark.timeout(60)
SIZE = (110, 34)


@pytest.fixture
def snap_app(write_pipeline, new_app, tmp_path: Path):
    """An app that runs nothing by itself: the scene's events are all it sees."""
    clock = FakeClock(1000.0)

    def build(**kwargs: object):
        path = write_pipeline(name="diamond.py")
        app = new_app(path, autorun=False, watch=False, clock=clock, themes_from=[], **kwargs)
        return app, clock

    return build


def test_first_run_in_progress(snap_app, snap_compare) -> None:
    app, clock = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.first_run_in_progress())
        clock.now += 1.25  # squares has been running for 1.25 s
        pilot.app.tick_elapsed()  # what the 4 Hz timer does; don't race it
        await scenes.play(pilot, [], select="squares")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_fully_cached_rerun(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.cached_rerun(), select="squares")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_code_change_shows_the_diff(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_failed_step_shows_its_traceback(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.failed_step(), select="combine")
        pilot.app.query_one("#detail-tabs").active = "tab-logs"
        await scenes.play(pilot, [])

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_pinned_step_shows_changes_since_the_pin(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.pinned_step(), select="cubes")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_dag_view(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.code_change())
        await pilot.press("d")
        await scenes.play(pilot, [])

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_load_error_keeps_the_last_run(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.load_error())

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_help_screen(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.cached_rerun())
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_light_theme(snap_app, snap_compare) -> None:
    app, _ = snap_app(theme="flowyml-light")

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


SMALL = (80, 24)
"""The smallest terminal we lay out for: the footer keeps q r s i p ? first, Why gets an …"""


def test_code_change_at_80x24(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")

    assert snap_compare(app, terminal_size=SMALL, run_before=before)


def test_load_error_at_80x24(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.load_error())

    assert snap_compare(app, terminal_size=SMALL, run_before=before)


LARGE = (160, 48)
"""A big terminal: the table, the tabs and the Why column use the room, nothing stretches oddly."""


def test_code_change_at_160x48(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.code_change(), select="cubes")

    assert snap_compare(app, terminal_size=LARGE, run_before=before)


def test_failed_step_at_160x48(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.failed_step(), select="combine")
        pilot.app.query_one("#detail-tabs").active = "tab-logs"
        await scenes.play(pilot, [])

    assert snap_compare(app, terminal_size=LARGE, run_before=before)


def test_dag_view_at_160x48(snap_app, snap_compare) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.code_change())
        await pilot.press("d")
        await scenes.play(pilot, [])

    assert snap_compare(app, terminal_size=LARGE, run_before=before)


@pytest.fixture
def fixed_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three recorded runs with fixed times, in the app's cache dir, read in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    for record in scenes.past_run_records():
        write_record(tmp_path / "cache", record)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", [LARGE, SMALL], ids=["160x48", "80x24"])
def test_past_runs_comparison(snap_app, snap_compare, fixed_records, size) -> None:
    app, _ = snap_app()

    async def before(pilot) -> None:
        await pilot.press("R")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("space", "down", "down", "space")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


def test_savings_view(snap_app, snap_compare, tmp_path: Path) -> None:
    for record in scenes.savings_records():
        write_record(tmp_path / "cache", record)
    app, _ = snap_app()

    async def before(pilot) -> None:
        await pilot.press("dollar_sign")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_long_failure_reason_fits_the_table(snap_app, snap_compare, size) -> None:
    """At 80 columns Cache and Time give way so Why stays readable, and cut cells end in `…`;
    wider, every column is back."""
    app, _ = snap_app()

    async def before(pilot) -> None:
        await scenes.play(pilot, scenes.long_failure(), select="train_gradient_boosting")

    assert snap_compare(app, terminal_size=size, run_before=before)
