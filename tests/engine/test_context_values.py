"""The context values in force: kept in run records and entries, shown in a miss's reason."""

from __future__ import annotations

import pytest

from flowyml_tui.engine.describe.context_text import MAX_CHARS
from flowyml_tui.engine.history.records import load_run

pytestmark = pytest.mark.timeout(30)

PIPELINE = """
from flowyml_tui import Pipeline, step

@step(outputs=["raw"])
def load_data(n):
    return list(range(n))

@step(inputs=["raw"], outputs=["total"])
def summarise(raw, label="sum"):
    return (label, sum(raw))

pipeline = Pipeline("ctx_example")
pipeline.add_step(load_data).add_step(summarise)
"""


def test_a_run_record_keeps_the_context_values_in_force(write_file, load, tmp_path):
    pipeline = load(write_file("ctx.py", PIPELINE))
    result = pipeline.run(context={"n": 10, "label": "total"})

    record = load_run(tmp_path / "cache", result.run_id)
    assert record["context"] == {"n": "10", "label": "'total'"}


def test_a_long_context_value_is_kept_short(write_file, load, tmp_path):
    pipeline = load(write_file("ctx.py", PIPELINE))
    result = pipeline.run(context={"n": 3, "label": "x" * 5000})

    shown = load_run(tmp_path / "cache", result.run_id)["context"]["label"]
    assert len(shown) <= MAX_CHARS
    assert shown.startswith("'xxx")


def test_a_changed_context_value_reads_old_to_new(write_file, load):
    pipeline = load(write_file("ctx.py", PIPELINE))
    pipeline.run(context={"n": 10})
    result = pipeline.run(context={"n": 20})

    assert result.step_results["load_data"].reason == "context changed: n 10 -> 20"
    assert result.step_results["load_data"].reason_kind.value == "context_changed"
    assert result.step_results["summarise"].reason == "upstream load_data changed (raw)"


def test_the_old_value_is_the_one_the_previous_run_used(write_file, load):
    pipeline = load(write_file("ctx.py", PIPELINE))
    pipeline.run(context={"n": 10})
    pipeline.run(context={"n": 20})
    result = pipeline.run(context={"n": 30})

    assert result.step_results["load_data"].reason == "context changed: n 20 -> 30"


def test_the_plan_of_a_step_behind_a_running_one_shows_the_values(write_file, load):
    pipeline = load(write_file("ctx.py", PIPELINE))
    pipeline.run(context={"n": 10, "label": "a"})
    plans = {plan.step: plan for plan in pipeline.plan(context={"n": 20, "label": "b"})}

    assert plans["load_data"].reason == "context changed: n 10 -> 20"
    assert plans["summarise"].reason == (
        "context changed: label 'a' -> 'b'; upstream load_data will run"
    )
