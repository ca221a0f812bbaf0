"""The step table draws each look of a cell from one Rich render, and draws it exactly as
DataTable itself would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.segment import Segment
from textual.geometry import Region

from flowyml_tui.engine.events import RunStarted, StepFinished, StepStarted
from flowyml_tui.tui.app import FlowymlApp
from flowyml_tui.tui.messages import RunnerUpdate
from flowyml_tui.tui.widgets.step_table import StepTable
from flowyml_tui.tui.widgets.table_internals import cells_written

from .helpers import FakeClock, drive, wait_until
from .test_big_runs import RUN, chain, post_a_cached_run


def paint(table: StepTable) -> list[list[Segment]]:
    """Every line on screen, drawn afresh: as after a frame that wrote cells in place."""
    cells_written(table)  # DataTable's own renders are dropped, as each frame's writes do
    table.refresh()  # and the widget's lines
    width, height = table.outer_size
    return [list(strip) for strip in table.render_lines(Region(0, 0, width, height))]


def cells_rendered_this_paint(table: StepTable) -> int:
    """Cells DataTable rendered through Rich since the count last moved (it keeps each)."""
    count = table._update_count
    keys = table._cell_render_cache.keys()  # an LRUCache: not iterable itself
    return sum(key[6] == count for key in keys)


def test_a_screen_of_rows_renders_each_look_once_not_each_cell(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    """A frame that changes every row on screen rendered each cell through Rich (17-35 ms at
    160x48 under load); cached steps share a status, a strategy, a time, a saving and a
    reason, and names as long as each other share one render."""
    path = write_pipeline()
    app = new_app(path, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        await post_a_cached_run(app, pilot, chain(200, str(path)))
        await pilot.pause()
        table = app.query_one(StepTable)
        rows = len(table.steps_on_screen())
        columns = len(table.columns)
        table.forget_looks()  # as on a new table's first paint
        paint(table)
        # one look per column and per length of name on screen, and again in the cursor's
        # row; the header
        lengths = len({len(name) for name in table.steps_on_screen()})
        looks = 2 * (lengths + columns - 1) + columns
        assert cells_rendered_this_paint(table) <= looks
        assert rows * columns > 3 * looks  # DataTable alone renders each cell

    drive(app, scenario, size=(160, 48))


def test_cells_drawn_from_a_shared_look_are_the_cells_datatable_draws(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    path = write_pipeline()
    clock = FakeClock()
    app = new_app(path, autorun=False, clock=clock)
    steps = chain(40, str(path))
    events: list[object] = [RunStarted(RUN, "chain", 0.0, steps, str(path), "cache")]
    for index, step in enumerate(steps[:30]):
        status, cached = [("cached", True), ("executed", False), ("failed", False)][index % 3]
        events.append(StepStarted(RUN, step.name, 0.0, "new step", "new_step"))
        events.append(
            StepFinished(RUN, step.name, status, status, status, cached, 0.25, saved_seconds=1.5)
        )
    events += [StepStarted(RUN, step.name, 0.0, "code changed", "code") for step in steps[30:]]

    async def scenario(pilot) -> None:
        await pilot.pause()
        app.post_message(RunnerUpdate(tuple(events), app.run_token))
        await wait_until(pilot, lambda: app.model.rows and "s39" in app.model.started_steps)
        clock.now += 2.5  # running rows show their time and what is left
        app.tick_elapsed()
        app.catch_up()
        table = app.query_one(StepTable)
        table.move_cursor(row=4, animate=False)
        await pilot.pause()
        for top, theme in ((0, None), (25, None), (0, "flowyml-light")):
            if theme is not None:  # cells in the new colours, not the looks kept before
                app.theme = theme
                await pilot.pause()
                app.catch_up()
            table.scroll_to(y=top, animate=False)  # rows of every status, the cursor's too
            await pilot.pause()
            shared = paint(table)
            table.cell_look = lambda row_key, column_key: None  # DataTable's own renders
            own = paint(table)
            del table.cell_look
            assert shared == own
            assert any("failed" in "".join(s.text for s in line) for line in shared)

    drive(app, scenario)
