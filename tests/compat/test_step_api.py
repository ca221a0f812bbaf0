"""The rest of flowyml 2.2.1's step API, with the real package: map tasks and sub-pipelines.

Each behaves as flowyml's docs describe (where its own run does otherwise, the docstring of
`compat/map_task.py` and `compat/nested.py` says how).
"""

from __future__ import annotations

import pytest

from tests.cli_process import run_cli

from .test_flowyml_template import statuses

pytestmark = pytest.mark.usefixtures("real_flowyml")

MAPPED = """
from pathlib import Path
from flowyml import Pipeline, step, map_task

CALLS = Path(__file__).with_name("calls.txt")

@step(outputs=["docs"])
def load():
    return ["a", "bb", "ccc"]

@map_task(inputs=["docs"], outputs=["lengths"], concurrency=2)
def measure(doc):
    with CALLS.open("a") as log:
        log.write(doc + "\\n")
    return len(doc)

pipeline = Pipeline("mapped")
pipeline.add_step(load).add_step(measure)
"""


def test_a_map_task_calls_its_function_per_item_and_reruns_only_changed_items(
    write_file, load
) -> None:
    path = write_file("mapped.py", MAPPED)
    calls = path.with_name("calls.txt")
    first = load(path).run()
    assert first["lengths"] == [1, 2, 3]  # one call per item, in order
    assert sorted(calls.read_text().split()) == ["a", "bb", "ccc"]
    assert first.step_results["measure"].calls[0].misses == 3

    calls.write_text("")
    path.write_text(path.read_text().replace('"bb"', '"bbbb"'))
    edited = load(path).run()
    assert edited["lengths"] == [1, 4, 3]
    assert calls.read_text().split() == ["bbbb"]  # only the changed item was called
    (stats,) = edited.step_results["measure"].calls
    assert (stats.hits, stats.misses) == (2, 1)

    calls.write_text("")
    path.write_text(path.read_text().replace("return len(doc)", "return len(doc) * 10"))
    recoded = load(path).run()
    assert recoded["lengths"] == [10, 40, 30]  # an edit of the function: every item again
    assert sorted(calls.read_text().split()) == ["a", "bbbb", "ccc"]


NESTED = """
from flowyml import Pipeline, step, context
from flowyml.core.subpipeline import sub_pipeline

@step(outputs=["raw"])
def load():
    return [1, 2, 3]

@step(inputs=["data"], outputs=["scaled"])
def scale(data, factor: int):
    return [x * factor for x in data]

@step(inputs=["scaled"], outputs=["total"])
def total(scaled):
    return sum(scaled)

@step(inputs=["grand_total"], outputs=["report"])
def report(grand_total):
    return f"total {grand_total}"

prep = Pipeline("prep", context=context(factor=10))
prep.add_step(scale).add_step(total)

pipeline = Pipeline("parent")
pipeline.add_step(load)
pipeline.add_sub_pipeline(
    prep, input_mapping={"raw": "data"}, output_mapping={"total": "grand_total"}
)
pipeline.add_step(report)
"""


def test_a_sub_pipeline_is_nested_steps_fed_with_the_parents_data(write_file, load) -> None:
    path = write_file("nested.py", NESTED)
    pipeline = load(path, "parent")
    assert [s.name for s in pipeline.steps] == [
        "load",
        "sub:prep/scale",
        "sub:prep/total",
        "report",
    ]
    first = pipeline.run()
    assert first["report"] == "total 60"  # the parent's raw reached the child as data
    assert statuses(load(path, "parent").run()) == dict.fromkeys(statuses(first), "cached")

    path.write_text(path.read_text().replace("return sum(scaled)", "return sum(scaled) + 1"))
    edited = load(path, "parent").run()
    assert statuses(edited) == {
        "load": "cached",
        "sub:prep/scale": "cached",  # each nested step is cached on its own
        "sub:prep/total": "executed",
        "report": "executed",
    }
    assert edited["report"] == "total 61"


DYNAMIC = """
from flowyml import Pipeline, step, dynamic

@step(outputs=["config"])
def load_config():
    return {"rates": [0.1, 0.2]}

@dynamic(inputs=["config"], outputs=["best"])
def search(config):
    sub = Pipeline("search")
    for rate in config["rates"]:
        @step(outputs=[f"score_{rate}"], name=f"train_{rate}", register=False)
        def train(rate=rate):
            return rate * 10

        sub.add_step(train)

    @step(inputs=[f"score_{r}" for r in config["rates"]], outputs=["best"], register=False)
    def pick(low, high):
        return max(low, high)

    sub.add_step(pick)
    return sub

pipeline = Pipeline("tuning")
pipeline.add_step(load_config).add_step(search)
"""


def test_a_dynamic_step_runs_the_pipeline_it_returns_on_our_engine(
    write_file, load, tmp_path
) -> None:
    path = write_file("tuning.py", DYNAMIC)
    first = load(path).run()
    assert first.success, first.step_results["search"].error
    assert first["best"] == 2.0
    from flowyml_tui.engine.history.records import list_runs

    nested = [r for r in list_runs(tmp_path / "cache", limit=None) if r.pipeline == "search"]
    assert len(nested) == 1 and nested[0].executed == 3  # its steps ran on our engine
    load(path).run()
    assert statuses(load(path).run())["search"] == "cached"


APPROVAL = """
from flowyml import Pipeline, step, approval

@step(outputs=["model"])
def train():
    return {"accuracy": ACCURACY}

ship_it = approval(
    "ship_it",
    inputs=["model"],
    outputs=["approved_model"],
    auto_approve_if=lambda model: model["accuracy"] > 0.95,
)

@step(inputs=["approved_model"], outputs=["url"])
def deploy(approved_model):
    return f"deployed {approved_model['accuracy']}"

pipeline = Pipeline("release")
pipeline.add_step(train).add_step(ship_it).add_step(deploy)
"""


def test_an_approval_step_waits_until_approved_headless(write_file, tmp_path) -> None:
    path = write_file("release.py", APPROVAL.replace("ACCURACY", "0.91"))
    waiting = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert waiting.returncode == 1
    assert "step 'ship_it' waits for approval" in waiting.stdout
    assert "--approve ship_it" in waiting.stdout
    assert "skipped  deploy" in waiting.stdout

    approved = run_cli(
        "run", path, "--cache-dir", tmp_path / "c", "--approve", "ship_it", cwd=tmp_path
    )
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "ran      ship_it" in approved.stdout and "ran      deploy" in approved.stdout
    again = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert again.returncode == 0 and "3 cached" in again.stdout  # approved once: cached


def test_auto_approve_if_lets_a_good_value_through(write_file, tmp_path) -> None:
    path = write_file("release.py", APPROVAL.replace("ACCURACY", "0.97"))
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 executed" in done.stdout
