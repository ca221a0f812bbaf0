"""`plan()` (and `--dry-run`) asks a step's `condition=` when what it reads is known already."""

from __future__ import annotations

from pathlib import Path

from flowyml_tui import step

from .test_step_keywords import pipeline_of


def plans(pipeline) -> dict[str, tuple[str, str]]:
    return {p.step: (p.action, p.reason) for p in pipeline.plan()}


def chain():
    @step(outputs=["metrics/eval"])
    def evaluate():
        return {"accuracy": 0.7}

    @step(
        inputs=["metrics/eval"],
        outputs=["model/deployed"],
        condition=lambda accuracy: accuracy > 0.9,
    )
    def deploy(metrics):
        return "deployed"

    @step(inputs=["model/deployed"])
    def announce(model):
        return f"announced {model}"

    return evaluate, deploy, announce


def test_a_condition_on_a_cached_output_is_answered_by_the_plan(tmp_path: Path) -> None:
    pipeline = pipeline_of(tmp_path, *chain())
    cold = plans(pipeline)
    assert cold["deploy"][0] == "run"
    assert cold["deploy"][1].endswith("(its condition is asked when the run gets there)")

    pipeline.run()
    warm = plans(pipeline)
    assert warm["evaluate"][0] == "hit"
    assert warm["deploy"] == ("skip", "condition false")
    assert warm["announce"] == ("skip", "upstream deploy skipped")


def test_a_condition_on_the_context_is_answered_before_anything_ran(tmp_path: Path) -> None:
    @step(outputs=["x"], condition=lambda mode: mode == "prod")
    def publish(mode):  # flowyml hands a condition the context values its step takes
        return 1

    assert plans(pipeline_of(tmp_path, publish, mode="dev"))["publish"] == (
        "skip",
        "condition false",
    )
    assert plans(pipeline_of(tmp_path, publish, mode="prod"))["publish"][0] == "run"


def test_a_condition_that_raises_is_planned_as_a_failure(tmp_path: Path) -> None:
    @step(outputs=["x"], condition=lambda mode: mode["missing"])
    def publish(mode):
        return 1

    action, reason = plans(pipeline_of(tmp_path, publish, mode="dev"))["publish"]
    assert action == "run"
    assert reason.startswith("failed: condition check failed: TypeError")
