"""The main screens, pixel for pixel: fixed events, a fixed clock, one theme.

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the SVGs in __snapshots__/ before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
