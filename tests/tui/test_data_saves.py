"""Saving a file a step read re-runs the pipeline in the workbench, as saving code does, and
the step detail lists what each step read."""

from __future__ import annotations

import pytest

from flowyml_tui.tui.widgets.step_table import StepTable

from .helpers import drive, statuses, wait_for_run, wait_until, widget_text

pytestmark = pytest.mark.timeout(60)

READER = """
import os

DATA = os.path.join(os.path.dirname(__file__), "data.csv")


@step(outputs=["rows"])
def load():
    with open(DATA) as f:
        return f.read().splitlines()


@step(inputs=["rows"], outputs=["count"])
def count(rows):
    return len(rows)


pipeline = Pipeline("reader")
pipeline.add_step(load).add_step(count)
"""


def test_saving_a_data_file_re_runs_its_reader_and_the_detail_lists_it(
    write_pipeline, new_app, tmp_path
) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\nb\n")
    path = write_pipeline(READER)
    app = new_app(path, watch=True)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        assert app.model.rows["load"].reads[0].path == "data.csv"
        with data.open("a") as f:  # an editor's save of the data file, not of the code
            f.write("c\n")
        await wait_for_run(pilot, app, 2)
        rows = app.model.rows
        assert statuses(app) == {"load": "executed", "count": "executed"}
        assert rows["load"].reason == "file changed: data.csv"
        assert "+c" in (rows["load"].diff or "")
        table = app.query_one(StepTable)
        table.move_cursor(row=table.get_row_index("load"))
        await wait_until(
            pilot,
            lambda: "Reads: 1" in widget_text(app.query_one("#why")),
            what="the reads in the Why tab",
        )
        assert "data.csv" in widget_text(app.query_one("#why"))

    drive(app, scenario)
