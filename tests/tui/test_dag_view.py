"""The DAG view: edges drawn as lanes, arrow keys move the selection, the details follow."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.widgets.dag_view import DagView

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

DIAMOND = """
@step(outputs=["raw"])
def load():
    return [1, 2, 3]


@step(inputs=["raw"], outputs=["left"])
def double(raw):
    return [x * 2 for x in raw]


@step(inputs=["raw"], outputs=["right"])
def square(raw):
    return [x * x for x in raw]


@step(inputs=["left", "right"], outputs=["total"])
def join(left, right):
    return sum(left) + sum(right)


pipeline = Pipeline("diamond")
pipeline.add_step(load).add_step(double).add_step(square).add_step(join)
"""


def graph_of(app) -> list[str]:
    """The drawing's lines without the status and reason text after each step name."""
    lines = []
    for line in widget_text(app.query_one("#dag-drawing")).splitlines():
        for name in ("load", "double", "square", "join"):
            if f" {name}" in line:
                line = line[: line.index(f" {name}") + len(name) + 1]
        lines.append(line.rstrip())
    return lines


def test_the_diamond_is_drawn_with_its_fork_and_merge(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(DIAMOND))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("d")
        await pilot.pause()
        assert graph_of(app) == [
            "●  load",
            "├─╮",
            "● │  double",
            "│ ●  square",
            "├─╯",
            "●  join",
        ]

    drive(app, scenario)


def test_arrow_keys_move_the_selection_and_the_details_follow(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(DIAMOND))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("d")
        dag = app.query_one(DagView)
        assert dag.has_focus and app.selected_step == "load"
        await pilot.press("down")
        assert dag.selected == "double" == app.selected_step
        await pilot.press("down", "down")
        assert app.selected_step == "join"
        await pilot.press("left")  # along an edge, to the first upstream step
        assert app.selected_step == "double"
        await pilot.press("right")
        assert app.selected_step == "join"
        await pilot.press("up", "up", "up", "up")  # stops at the top
        assert app.selected_step == "load"
        await pilot.press("down")
        await pilot.pause()
        await wait_until(
            pilot, lambda: "double" in widget_text(app.query_one("#why")), what="its Why"
        )
        await pilot.press("d")  # back to the table, on the same step
        assert app.query_one("#steps").selected_step == "double"

    drive(app, scenario)
