"""flowyml's wiring (asset names, dict returns, implicit inputs) and its result names."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml_tui import Context, Pipeline, context, step
from flowyml_tui.engine.errors import StepOutputError


@step(outputs=["data/train", "data/val"])
def split():
    return {"data/train": [1, 2, 3], "data/val": [4]}


@step(inputs=["data/train", "data/val"], outputs=["model/trained"])
def train(train_data, val_data, learning_rate):
    return {"weights": sum(train_data) * learning_rate, "val": len(val_data)}


@step(outputs=["accuracy"])
def evaluate(model):  # no inputs=[...]: fed from train's output named like the parameter
    return 0.9


@step(outputs=["model"])
def package(trained_model=None):
    return "model.bin"


def make(tmp_path: Path) -> Pipeline:
    pipeline = Pipeline("training", context=Context(learning_rate=0.5), cache_dir=tmp_path / "c")
    return pipeline.add_steps([split, train])


def test_asset_names_dict_returns_and_inputs_by_position(tmp_path: Path) -> None:
    result = make(tmp_path).run()
    assert result["data/train"] == [1, 2, 3]
    assert result["data/val"] == [4]
    assert result["model/trained"] == {"weights": 3.0, "val": 1}


def test_a_dict_missing_an_output_says_which(tmp_path: Path) -> None:
    @step(outputs=["a", "b"])
    def half():
        return {"a": 1}

    result = Pipeline.from_steps(half, name="p", cache_dir=tmp_path / "c").run()
    failed = result.step_results["half"]
    assert isinstance(failed.exception, StepOutputError)
    assert "returned a dict without ['b']" in failed.reason


def test_a_parameter_named_like_an_output_is_an_implicit_input(tmp_path: Path) -> None:
    pipeline = Pipeline.from_steps(package, evaluate, name="p", cache_dir=tmp_path / "c")
    info = {i.name: i for i in pipeline.graph().infos}
    assert info["evaluate"].upstream == ("package",)
    assert info["evaluate"].implicit_inputs == ("model",)
    assert pipeline.order() == ["package", "evaluate"]
    assert pipeline.run()["accuracy"] == 0.9
    # the implicit input is part of the key like a declared one
    assert pipeline.run().step_results["evaluate"].cached


def test_a_context_value_wins_over_an_implicit_input_as_in_flowyml(tmp_path: Path) -> None:
    pipeline = Pipeline.from_steps(package, evaluate, name="p", cache_dir=tmp_path / "c")
    info = {i.name: i for i in pipeline.graph(context={"model": "given"}).infos}
    assert info["evaluate"].implicit_inputs == ()


def test_flowyml_result_names(tmp_path: Path) -> None:
    result = make(tmp_path).run()
    assert result.success is True
    assert result.state == "completed"
    assert result.pipeline_name == "training"
    assert result.outputs["split"] == {"data/train": [1, 2, 3], "data/val": [4]}
    assert result.outputs["train"] == {"weights": 1.5 * 2, "val": 1}
    trained = result.step_results["train"]
    assert (trained.success, trained.skipped, trained.retries) == (True, False, 0)
    assert trained.step_name == "train"
    assert trained.output == {"weights": 3.0, "val": 1}
    steps = result.to_dict()["steps"]
    assert steps["train"]["success"] is True and steps["train"]["cached"] is False
    summary = result.summary()
    assert "Pipeline: training" in summary and "SUCCESS" in summary and "train" in summary


def test_a_cached_step_output_loads_from_the_cache(tmp_path: Path) -> None:
    make(tmp_path).run()
    again = make(tmp_path).run()
    assert again.step_results["train"].cached
    assert again.step_results["train"].output == {"weights": 3.0, "val": 1}


def test_a_failed_run_says_so_in_flowyml_terms(tmp_path: Path) -> None:
    @step
    def broken():
        raise RuntimeError("no")

    result = Pipeline.from_steps(broken, name="p", cache_dir=tmp_path / "c").run()
    assert (result.success, result.state) == (False, "failed")
    assert "FAILED" in result.summary()


def test_context_behaves_as_flowyml_context() -> None:
    ctx = context(learning_rate=0.001, epochs=10)
    assert ctx.learning_rate == 0.001 and ctx["epochs"] == 10
    child = ctx.inherit(epochs=20)
    assert child.epochs == 20 and child.learning_rate == 0.001
    assert child.to_dict() == {"learning_rate": 0.001, "epochs": 20}
    assert ctx.inject_params(lambda epochs, data: None) == {"epochs": 10}
    with pytest.raises(AttributeError, match="no parameter 'batch_size'"):
        _ = ctx.batch_size


def test_flowyml_pipeline_keywords_are_accepted_and_typos_are_not(tmp_path: Path) -> None:
    pipeline = Pipeline("p", project_name="demo", enable_checkpointing=False)
    assert pipeline.flowyml_options == {"project_name": "demo", "enable_checkpointing": False}
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['enable_cahce'\\]"):
        Pipeline("p", enable_cahce=False)
