"""flowyml's Pipeline methods about the cache and past runs, answered from our store."""

from __future__ import annotations

import datetime

import pytest

from flowyml_tui.engine.errors import FlowymlError

from .test_flowyml_template import statuses

CHAIN = """
from flowyml_tui import Pipeline, step

@step(outputs=["raw"], execution_group="prep")
def load():
    return [1, 2, 3]

@step(outputs=["side"])
def side():
    return 1

@step(inputs=["raw"], outputs=["clean"], execution_group="prep")
def clean(raw):
    return [x * 2 for x in raw]

@step(inputs=["clean", "side"], outputs=["total"], execution_group="train")
def total(clean, side):
    return sum(clean) + side

@step(inputs=["total"], outputs=["report"], execution_group="prep")
def report(total):
    return f"total {total}"

pipeline = Pipeline("chain")
pipeline.add_steps([load, side, clean, total, report])
"""


def test_cache_stats_and_check_cache_describe_our_runs(write_file, load) -> None:
    pipeline = load(write_file("chain.py", CHAIN))
    assert pipeline.check_cache() is None
    first = pipeline.run()
    pipeline.run()
    stats = pipeline.cache_stats()
    assert (stats["hits"], stats["misses"], stats["hit_rate"]) == (5, 5, 0.5)
    assert stats["total_entries"] == 5
    assert set(stats["by_step"]) == {"load", "side", "clean", "total", "report"}
    assert stats["by_step"]["load"]["count"] == 1
    last = pipeline.check_cache()
    assert last is not None and last["status"] == "completed"
    assert last["run_id"] != first.run_id  # the newest successful run


def test_invalidate_cache_by_step_and_by_date(write_file, load) -> None:
    pipeline = load(write_file("chain.py", CHAIN))
    pipeline.run()
    assert pipeline.invalidate_cache(step="clean") == 1
    assert statuses(pipeline.run())["clean"] == "executed"
    assert pipeline.invalidate_cache(before="2000-01-01") == 0
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    assert pipeline.invalidate_cache(before=tomorrow) == 5
    assert set(statuses(pipeline.run()).values()) == {"executed"}
    assert pipeline.invalidate_cache() == 5
    with pytest.raises(FlowymlError, match="not an ISO date"):
        pipeline.invalidate_cache(before="last week")


def test_rerun_from_a_step_runs_it_and_its_downstream(write_file, load) -> None:
    pipeline = load(write_file("chain.py", CHAIN))
    first = pipeline.run()
    again = pipeline.rerun(first.run_id, from_step="total")
    assert statuses(again) == {
        "load": "cached",
        "side": "cached",
        "clean": "cached",
        "total": "executed",
        "report": "executed",  # downstream of total: re-run too
    }
    assert set(statuses(pipeline.rerun(first.run_id)).values()) == {"cached"}
    plans = pipeline.dry_run()
    assert [p.action for p in plans] == ["hit"] * 5


def test_step_groups_are_split_as_flowyml_splits_them(write_file, load) -> None:
    pipeline = load(write_file("chain.py", CHAIN))
    groups = [(g.group_name, [s.name for s in g.steps]) for g in pipeline.step_groups]
    # report is in "prep" too, but total (group "train") lies between clean and it
    assert groups == [("prep_0", ["load", "clean"]), ("prep_1", ["report"]), ("train", ["total"])]
