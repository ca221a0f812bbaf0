"""A project written as `flowyml init` writes it runs unchanged but for the import line.

The pipeline file below is flowyml 2.2.1's `flowyml init` template (flowyml/cli/init.py),
with `from flowyml import` changed to `from flowyml_tui import`.
"""

from __future__ import annotations

from pathlib import Path

from flowyml_tui.engine.load.loader import load_pipelines
from tests.cli_process import run_cli

TEMPLATE = '''
"""Example training pipeline."""

from flowyml_tui import Pipeline, step, context

# Define context
ctx = context(
    learning_rate=0.001,
    batch_size=32,
    epochs=10
)


@step(outputs=["data/processed"])
def load_data():
    """Load and preprocess data."""
    # Your data loading logic here
    print("Loading data...")
    data = {"samples": 1000, "features": 10}
    return data


@step(inputs=["data/processed"], outputs=["model/trained"])
def train_model(data, learning_rate, epochs):
    """Train the model."""
    print(f"Training model with lr={learning_rate}, epochs={epochs}")
    # Your training logic here
    model = {"accuracy": 0.95, "loss": 0.05, "samples": data["samples"]}
    return model


@step(inputs=["model/trained"], outputs=["metrics/evaluation"])
def evaluate_model(model):
    """Evaluate the trained model."""
    print("Evaluating model...")
    metrics = {"test_accuracy": 0.93, "test_loss": 0.07}
    return metrics


# Create pipeline
def create_pipeline():
    pipeline = Pipeline("training_pipeline", context=ctx)
    pipeline.add_step(load_data)
    pipeline.add_step(train_model)
    pipeline.add_step(evaluate_model)
    return pipeline


if __name__ == "__main__":
    pipeline = create_pipeline()
    result = pipeline.run()
    print(f"\\nPipeline completed successfully!")
    print(f"Results: {result.outputs}")
'''


def statuses(result) -> dict[str, str]:
    return {name: r.status.value for name, r in result.step_results.items()}


def test_create_pipeline_is_found_and_runs_from_the_cache_then_after_an_edit(
    write_file, load
) -> None:
    path = write_file("pipelines/training_pipeline.py", TEMPLATE)
    pipeline = load(path)
    assert pipeline.name == "training_pipeline"

    (first,) = load.script_results  # its `if __name__ == "__main__":` block ran it
    assert set(statuses(first).values()) == {"executed"}
    assert first.success and first.state == "completed"
    assert first["data/processed"] == {"samples": 1000, "features": 10}
    assert first["model/trained"]["samples"] == 1000
    assert first.outputs["evaluate_model"] == {"test_accuracy": 0.93, "test_loss": 0.07}

    again = load(path).run()
    assert statuses(again) == dict.fromkeys(statuses(first), "cached")

    path.write_text(TEMPLATE.replace('"test_loss": 0.07', '"test_loss": 0.08'))
    load(path)
    edited = load.script_results[-1]
    assert statuses(edited) == {
        "load_data": "cached",
        "train_model": "cached",
        "evaluate_model": "executed",
    }
    assert edited.step_results["evaluate_model"].reason.startswith("code changed")


def test_a_context_value_change_reruns_only_the_step_that_reads_it(write_file, load) -> None:
    path = write_file("training_pipeline.py", TEMPLATE)
    load(path)
    path.write_text(TEMPLATE.replace("epochs=10", "epochs=20"))
    load(path)
    result = load.script_results[-1]
    assert statuses(result)["load_data"] == "cached"
    assert statuses(result)["train_model"] == "executed"
    assert "epochs" in result.step_results["train_model"].reason
    # evaluate_model's input came out equal: early cutoff
    assert statuses(result)["evaluate_model"] == "cached"


def test_flowyml_tui_run_opens_the_template(write_file, tmp_path: Path) -> None:
    path = write_file("training_pipeline.py", TEMPLATE)
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "defines no Pipeline" not in done.stdout + done.stderr
    assert "evaluate_model" in done.stdout


def test_a_create_pipeline_returning_something_else_says_so(write_file) -> None:
    path = write_file("bad.py", "def create_pipeline():\n    return None\n")
    try:
        load_pipelines(path)
    except Exception as exc:
        assert "create_pipeline() returned NoneType, not a Pipeline" in str(exc)
    else:
        raise AssertionError("loaded a file whose create_pipeline() returns None")
