"""The Why tab says what a step was declared with: retry, timeout, condition, group, tags."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.widgets.step_table import StepTable

from .helpers import drive, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

DECLARED = """
def ready():
    return True


@step(outputs=["raw"], retry=2, timeout=30, condition=ready, execution_group="prep",
      tags={"team": "ml"}, resources={"cpu": 2})
def load():
    return [1, 2, 3]


@step(inputs=["raw"], outputs=["total"])
def total(raw):
    return sum(raw)


pipeline = Pipeline("declared").add_step(load).add_step(total)
"""


def test_the_why_tab_shows_the_flowyml_keywords_a_step_has(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(DECLARED))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        table = app.query_one(StepTable)
        table.move_cursor(row=table.get_row_index("load"))
        await wait_until(
            pilot, lambda: "retry 2" in widget_text(app.query_one("#why")), what="settings"
        )
        why = widget_text(app.query_one("#why"))
        for shown in ("timeout 30 s", "condition ready", "group prep", "tags team=ml", "cpu"):
            assert shown in why, why
        table.move_cursor(row=table.get_row_index("total"))
        await wait_until(
            pilot, lambda: "total" in widget_text(app.query_one("#why")), what="total's Why"
        )
        assert "retry" not in widget_text(app.query_one("#why"))

    drive(app, scenario)
