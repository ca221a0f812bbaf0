"""A pipeline of thousands of steps keeps the workbench responsive: a cached run's events,
which arrive all at once, are folded in a slice at a time behind whatever is already queued
(keys, frames), and a big table is kept out of the garbage collector's full scans."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from textual.widgets.data_table import ColumnKey

from flowyml_tui.engine.collector import collection_paused
from flowyml_tui.engine.events import RunFinished, RunStarted, StepFinished, StepInfo
from flowyml_tui.tui.app import EVENTS_PER_TURN, FlowymlApp
from flowyml_tui.tui.heap import FREEZE_FROM_ROWS
from flowyml_tui.tui.messages import RunnerUpdate
from flowyml_tui.tui.state import RunModel
from flowyml_tui.tui.widgets.step_table import StepTable

from .helpers import drive

RUN = "20260101-120000-abcdef"


def chain(steps: int, file: str) -> tuple[StepInfo, ...]:
    infos = [StepInfo("s0", (), ("v0",), (), "code_hash", None, file, 1)]
    for i in range(1, steps):
        infos.append(
            StepInfo(f"s{i}", (f"v{i - 1}",), (f"v{i}",), (f"s{i - 1}",), "code_hash", None, file)
        )
    return tuple(infos)


def cached_run(steps: tuple[StepInfo, ...]) -> tuple[object, ...]:
    events: list[object] = [RunStarted(RUN, "chain", 0.0, steps, steps[0].source_file, "cache")]
    events += [
        StepFinished(RUN, s.name, "cached", "cached", "cached", True, 0.0, saved_seconds=0.5)
        for s in steps
    ]
    events.append(RunFinished(RUN, "chain", "succeeded", 0.0, 0.2, 0.2, cached=len(steps)))
    return tuple(events)


async def post_a_cached_run(app: FlowymlApp, pilot, steps: tuple[StepInfo, ...]) -> None:
    """As the run worker hands over a fully cached run; until the app has folded it all in."""
    app.post_message(RunnerUpdate(cached_run(steps), app.run_token))
    for _ in range(200):
        await pilot.pause(0.02)
        if app.model.finished is not None:
            break
    app.catch_up()


def finished_rows(app: FlowymlApp) -> int:
    return sum(row.status == "cached" for row in app.model.rows.values())


def test_what_is_queued_behind_a_big_cached_run_is_not_held_up_until_it_is_all_in(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    path = write_pipeline()
    steps = chain(EVENTS_PER_TURN * 8, str(path))
    app = new_app(path, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        seen_by_queued_callback: list[int] = []
        app.post_message(RunnerUpdate(cached_run(steps), app.run_token))
        app.call_later(lambda: seen_by_queued_callback.append(finished_rows(app)))
        for _ in range(200):
            await pilot.pause(0.02)
            if finished_rows(app) == len(steps) and not app.model.running:
                break
        app.catch_up()
        # Queued after the whole run, yet handled after one slice of it: keys and frames
        # go on while the rest is folded in.
        assert seen_by_queued_callback and 0 < seen_by_queued_callback[0] < len(steps)
        # ...and the rest is all folded in, in order: the run ended with every row cached.
        assert finished_rows(app) == len(steps)
        assert app.model.finished is not None
        assert app.query_one(StepTable).row_count == len(steps)

    drive(app, scenario)


def test_a_late_slice_of_a_replaced_run_is_dropped(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    path = write_pipeline()
    steps = chain(EVENTS_PER_TURN * 4, str(path))
    app = new_app(path, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        app.post_message(RunnerUpdate(cached_run(steps), app.run_token))
        app.call_later(app.start_run, "saved demo.py")  # a save while the backlog drains
        await pilot.pause(0.5)
        await app.shutdown_runs()
        assert finished_rows(app) < len(steps)  # the rest belonged to the replaced run

    drive(app, scenario)


def test_a_big_table_is_frozen_out_of_full_collections_and_thawed_for_the_next_build(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    path = write_pipeline()
    app = new_app(path, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        big = chain(FREEZE_FROM_ROWS, str(path))
        await post_a_cached_run(app, pilot, big)
        await pilot.pause(0.1)
        frozen = gc.get_freeze_count()
        # every row and cell of the table among them (a row is several objects)
        assert frozen > FREEZE_FROM_ROWS * 3
        small = chain(3, str(path))
        app.post_message(RunnerUpdate(cached_run(small), app.run_token))
        await pilot.pause(0.3)
        app.catch_up()
        assert app.query_one(StepTable).row_count == 3
        assert gc.get_freeze_count() == 0  # a small table: nothing is kept frozen

    try:
        drive(app, scenario)
    finally:
        gc.unfreeze()


def test_collections_stay_off_while_any_worker_decodes_records_and_come_back_after() -> None:
    started, release = threading.Event(), threading.Event()

    def worker() -> None:
        with collection_paused():
            started.set()
            release.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(10)
    try:
        with collection_paused():  # a second reader overlapping the first
            assert not gc.isenabled()
        assert not gc.isenabled()  # the first still reads
    finally:
        release.set()
        thread.join(10)
    assert gc.isenabled()


def test_a_big_run_start_and_table_build_set_off_no_collection(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    """Each collection a build set off scanned everything built so far (full scans of
    100-270 ms at 10,000 rows); what is built lives on, so it is built with none and frozen."""
    path = write_pipeline()
    app = new_app(path, autorun=False)
    inside: list[str] = []

    def during_builds(phase: str, info: dict[str, int]) -> None:
        if phase != "start":
            return
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code in (RunModel.start.__code__, StepTable.show_steps.__code__):
                inside.append(f"generation {info['generation']} in {frame.f_code.co_name}")
                return
            frame = frame.f_back

    async def scenario(pilot) -> None:
        await pilot.pause()
        gc.callbacks.append(during_builds)
        try:
            big = chain(FREEZE_FROM_ROWS, str(path))
            await post_a_cached_run(app, pilot, big)
        finally:
            gc.callbacks.remove(during_builds)
        assert app.query_one(StepTable).row_count == FREEZE_FROM_ROWS
        assert not inside, inside
        assert gc.isenabled() and gc.get_freeze_count() > FREEZE_FROM_ROWS * 3

    try:
        drive(app, scenario)
    finally:
        gc.unfreeze()


def test_a_table_with_more_rows_than_fit_is_fitted_once_for_its_scrollbar(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    """The scrollbar appeared a frame after a build; fitting the columns again then repainted
    every visible row (or, across a threshold, rebuilt every row): the build leaves room."""
    path = write_pipeline()
    app = new_app(path, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        table = app.query_one(StepTable)
        fitted: list[tuple[int, ...]] = []
        show_steps = table.show_steps

        def recorded(*args: object) -> None:
            show_steps(*args)
            fitted.append(tuple(c.width for c in table.columns.values()))
            # ...and its size is known then, not when next idle: the first paint scrolls
            assert table.virtual_size.height == table.row_count + table.header_height

        table.show_steps = recorded  # type: ignore[method-assign]
        await post_a_cached_run(app, pilot, chain(200, str(path)))
        await pilot.pause(0.2)
        assert table.show_vertical_scrollbar
        assert fitted and fitted[-1] == tuple(c.width for c in table.columns.values())
        reason = table.columns[ColumnKey("reason")]
        assert sum(c.get_render_width(table) for c in table.columns.values()) == (
            table.scrollable_content_region.width
        ), reason.width

    drive(app, scenario, size=(80, 24))
