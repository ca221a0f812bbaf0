"""Files written for the real flowyml 2.2.1 (`from flowyml import ...`) open and run unchanged.

The loader translates flowyml's own `Pipeline`/`VersionedPipeline`/`Step` objects into ours;
these files are written as flowyml's `flowyml init` template and its docs write them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.pipeline import Pipeline
from tests.cli_process import run_cli

from .test_flowyml_template import TEMPLATE, statuses

pytestmark = pytest.mark.usefixtures("real_flowyml")

UNCHANGED = TEMPLATE.replace("from flowyml_tui import", "from flowyml import")

KEYWORDS = """
from flowyml import Pipeline, step, Context

@step(outputs=["data/raw"], retry=2, timeout=30, tags={"team": "ml"},
      resources={"cpu": "2"}, execution_group="prep", pipeline="kw")
def load():
    return [1, 2, 3]

@step(inputs=["data/raw"], outputs=["total"], cache="input_hash",
      condition=lambda: True)
def add(raw, offset):
    return sum(raw) + offset

pipeline = Pipeline("kw", context=Context(offset=10))
pipeline.add_steps([load, add])
"""


def test_the_flowyml_init_template_runs_twice_then_after_an_edit(write_file, load) -> None:
    path = write_file("training_pipeline.py", UNCHANGED)
    pipeline = load(path)
    assert isinstance(pipeline, Pipeline) and pipeline.name == "training_pipeline"
    assert pipeline.context == {"learning_rate": 0.001, "batch_size": 32, "epochs": 10}

    first = pipeline.run()
    assert first.success
    assert first["model/trained"] == {"accuracy": 0.95, "loss": 0.05, "samples": 1000}
    again = load(path).run()  # a second import: flowyml's registry would refuse the steps
    assert statuses(again) == dict.fromkeys(statuses(first), "cached")

    path.write_text(UNCHANGED.replace('"test_loss": 0.07', '"test_loss": 0.08'))
    load(path)  # its `if __name__ == "__main__":` block runs it: the run after the edit
    edited = load.script_results[-1]
    assert statuses(edited) == {
        "load_data": "cached",
        "train_model": "cached",
        "evaluate_model": "executed",
    }
    assert edited.step_results["evaluate_model"].reason.startswith("code changed")


def test_every_step_keyword_is_translated(write_file, load) -> None:
    pipeline = load(write_file("kw.py", KEYWORDS))
    load_step, add_step = pipeline.steps
    assert (load_step.retry, load_step.timeout, load_step.execution_group) == (2, 30.0, "prep")
    assert dict(load_step.tags) == {"team": "ml", "pipeline": "kw"}
    assert load_step.resources is not None
    assert add_step.cache_label == "input_hash" and add_step.condition is not None
    assert pipeline.run()["total"] == 16


def test_versioned_and_auto_discovered_pipelines_open(write_file, load) -> None:
    source = """
        from flowyml import Pipeline, VersionedPipeline, step

        @step(outputs=["x"])
        def make():
            return 2

        def create_pipeline():
            return Pipeline("auto", auto_discover=True)

        versioned = VersionedPipeline("versioned", version="v1.2.0")
        versioned.add_step(make)
        """
    found = load_pipelines(write_file("v.py", source))
    assert set(found) == {"versioned"}
    assert found["versioned"].flowyml_options["version"] == "v1.2.0"
    assert load(write_file("auto.py", source.split("versioned =")[0])).run()["x"] == 2


def test_flowyml_tui_run_runs_an_import_time_run_once_on_our_engine(
    write_file, tmp_path: Path
) -> None:
    source = UNCHANGED + "\npipeline = create_pipeline()\nresult = pipeline.run()\n"
    source += "print('SUCCESS', result.success, result.outputs['model/trained'] is not None)\n"
    path = write_file("training_pipeline.py", source.replace('print("Loading', 'print("LOAD'))
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # Its module-level run, then its `__main__` block's: each once, the second from the cache
    first, second = done.stdout.split("pipeline training_pipeline")[1:]
    assert "3 executed" in first and "3 cached" in second
    assert "SUCCESS True True" in second
    assert "Dashboard" not in done.stdout + done.stderr  # flowyml's UI server banner


IF_DEPLOY = """
from flowyml import Pipeline, step, If

@step(outputs=["accuracy"])
def evaluate_model():
    return 0.95

@step
def deploy_model():
    return "deployed"

@step
def retrain_model():
    return "retrained"

pipeline = Pipeline("conditional_deploy")
pipeline.add_step(evaluate_model)
pipeline.add_control_flow(
    If(
        condition=lambda ctx: ctx.steps["evaluate_model"].outputs["accuracy"] > 0.9,
        then_step=deploy_model,
        else_step=retrain_model,
    )
)
"""


def test_an_if_control_flow_runs_the_chosen_branch_after_what_it_reads(write_file, load):
    path = write_file("deploy.py", IF_DEPLOY)
    pipeline = load(path)
    assert pipeline.graph().upstream["deploy_model"] == ("evaluate_model",)
    first = pipeline.run()
    assert statuses(first) == {
        "evaluate_model": "executed",
        "deploy_model": "executed",
        "retrain_model": "skipped",
    }
    assert first.step_results["retrain_model"].reason == "condition false"
    assert first.outputs["deploy_model"] == "deployed"

    path.write_text(IF_DEPLOY.replace("return 0.95", "return 0.5"))
    low = load(path).run()
    assert statuses(low) == {
        "evaluate_model": "executed",
        "deploy_model": "skipped",
        "retrain_model": "executed",
    }
    again = load(path).run()
    assert statuses(again) == {
        "evaluate_model": "cached",
        "deploy_model": "skipped",
        "retrain_model": "cached",
    }


def test_the_fluent_if_and_a_plain_function_branch(write_file, load) -> None:
    path = write_file(
        "fluent.py",
        """
        from flowyml import Pipeline, step, If, context

        @step(outputs=["metrics"])
        def evaluate():
            return {"accuracy": 0.97}

        def promote():
            return "promoted"

        pipeline = Pipeline("fluent", context=context(bar=0.95)).add_step(evaluate)
        pipeline.add_control_flow(
            If(condition=lambda ctx: ctx["metrics"].accuracy > ctx.params["bar"]).then(promote)
        )
        """,
    )
    result = load(path).run()
    assert result.outputs["promote"] == "promoted"


def test_a_switch_given_to_add_control_flow_is_ignored_as_flowyml_does(
    write_file, load, capsys
) -> None:
    path = write_file(
        "switch.py",
        """
        from flowyml import Pipeline, step, Switch

        @step(outputs=["kind"])
        def classify():
            return "image"

        switch = Switch(lambda kind: kind)
        pipeline = Pipeline("switch").add_step(classify)
        pipeline.add_control_flow(switch)
        """,
    )
    assert load(path).run()["kind"] == "image"
    assert "Switch(...) given to add_control_flow is ignored" in capsys.readouterr().err


def test_equal_flowyml_assets_let_downstream_steps_stay_cached(write_file, load) -> None:
    source = """
        from flowyml import Pipeline, step, Dataset, Metrics

        @step(outputs=["data/train"], cache=False)
        def load():
            return Dataset("train", data=[1, 2, 3], properties={"rows": 3}, tags={"s": "a"})

        @step(inputs=["data/train"], outputs=["metrics"])
        def score(dataset):
            return Metrics("scores", data={"mean": sum(dataset.data) / 3})

        @step(inputs=["metrics"], outputs=["report"])
        def report(metrics):
            return metrics.data["mean"]

        pipeline = Pipeline("assets").add_steps([load, score, report])
        """
    path = write_file("assets.py", source)
    assert load(path).run()["report"] == 2.0
    again = load(path).run()
    assert statuses(again) == {"load": "executed", "score": "cached", "report": "cached"}

    path.write_text(path.read_text().replace("data=[1, 2, 3]", "data=[1, 2, 6]"))
    changed = load(path).run()
    assert statuses(changed) == {"load": "executed", "score": "executed", "report": "executed"}


FLOWYML_READER = """
import os
from flowyml import Pipeline, step

@step(outputs=["rows"])
def load_rows():
    with open(os.path.join(os.path.dirname(__file__), "rows.txt")) as f:
        return f.read().split()

@step(inputs=["rows"], outputs=["count"])
def count(rows):
    return len(rows)

pipeline = Pipeline("flowyml_reader")
pipeline.add_step(load_rows).add_step(count)
"""


def test_a_flowyml_step_follows_the_file_it_reads(write_file, load, tmp_path) -> None:
    (tmp_path / "rows.txt").write_text("a b\n")
    path = write_file("reader.py", FLOWYML_READER)
    assert load(path).run()["count"] == 2
    (tmp_path / "rows.txt").write_text("a b c\n")
    again = load(path).run()
    assert again.step_results["load_rows"].reason == "file changed: rows.txt"
    assert again["count"] == 3
