"""flowyml's `@step` keywords, written as its docs write them, mean what they say here."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from flowyml_tui import Pipeline, step
from flowyml_tui.engine.errors import StepDefinitionError
from flowyml_tui.engine.events import StepFinished


def pipeline_of(tmp_path: Path, *steps, **context) -> Pipeline:
    return Pipeline.from_steps(*steps, name="p", cache_dir=tmp_path / "cache", context=context)


def test_retry_re_calls_a_failing_step_with_flowyml_backoff(tmp_path: Path) -> None:
    calls = tmp_path / "calls"

    @step(outputs=["data/raw"], retry=2)
    def flaky_fetch():
        calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
        if len(calls.read_text()) < 2:
            raise ConnectionError("network blip")
        return [1, 2, 3]

    started = time.monotonic()
    events = []
    result = pipeline_of(tmp_path, flaky_fetch).run(on_event=events.append)
    waited = time.monotonic() - started
    step_result = result.step_results["flaky_fetch"]
    assert step_result.success and step_result.status.value == "executed"
    assert step_result.retries == 1
    assert step_result.reason == "new step (after 2 attempts)"
    assert result.to_dict()["steps"]["flaky_fetch"]["retries"] == 1
    assert [e.retries for e in events if isinstance(e, StepFinished)] == [1]
    assert waited >= 1.0  # flowyml waits 2 ** attempt seconds: 1 s after the first failure
    assert any("attempt 1 failed (ConnectionError: network blip)" in t for _, t in step_result.logs)


def test_retry_exhausted_fails_saying_how_many_attempts(tmp_path: Path) -> None:
    @step(retry=1)
    def always_fails():
        raise ValueError("bad row")

    result = pipeline_of(tmp_path, always_fails).run()
    failed = result.step_results["always_fails"]
    assert not failed.success
    assert failed.retries == 1
    assert failed.reason == "failed: ValueError: bad row (after 2 attempts)"


def test_timeout_is_enforced_in_the_main_thread(tmp_path: Path) -> None:
    @step(timeout=0.3)
    def hangs():
        time.sleep(30)

    started = time.monotonic()
    result = pipeline_of(tmp_path, hangs).run()
    assert time.monotonic() - started < 10
    assert result.step_results["hangs"].reason == "failed: StepTimeout: timed out after 0.3 s"


def test_timeout_is_enforced_off_the_main_thread_by_a_watchdog(tmp_path: Path) -> None:
    @step(timeout=0.3)
    def spins():
        while True:
            sum(range(100))

    box = {}
    worker = threading.Thread(
        target=lambda: box.update(r=pipeline_of(tmp_path, spins).run()), daemon=True
    )
    worker.start()
    worker.join(20)
    assert not worker.is_alive()
    assert box["r"].step_results["spins"].reason == "failed: StepTimeout: timed out after 0.3 s"


def test_a_step_within_its_timeout_is_cached_as_usual(tmp_path: Path) -> None:
    @step(outputs=["x"], timeout=5)
    def quick():
        return 1

    pipeline = pipeline_of(tmp_path, quick)
    assert pipeline.run()["x"] == 1
    assert pipeline.run().step_results["quick"].cached


def test_condition_false_skips_the_step_and_its_downstream(tmp_path: Path) -> None:
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

    result = pipeline_of(tmp_path, evaluate, deploy, announce).run()
    deploy_result = result.step_results["deploy"]
    assert deploy_result.skipped and deploy_result.success  # flowyml counts a skip a success
    assert deploy_result.reason == "condition false"
    assert deploy_result.output is None
    assert result.step_results["announce"].reason == "upstream deploy skipped"
    assert result.success


def test_condition_sees_context_outputs_by_asset_name_and_inputs(tmp_path: Path) -> None:
    seen = {}

    @step(outputs=["data/clean"])
    def clean():
        return [1, 2, 3]

    def worth_training(threshold, data):
        seen.update(threshold=threshold, data=data)
        return len(data) >= threshold

    @step(inputs=["data/clean"], outputs=["model"], condition=worth_training)
    def train(data, threshold):
        return sum(data)

    result = pipeline_of(tmp_path, clean, train, threshold=2).run()
    assert seen == {"threshold": 2, "data": [1, 2, 3]}
    assert result["model"] == 6


def test_a_condition_that_raises_fails_the_step(tmp_path: Path) -> None:
    @step(condition=lambda: 1 / 0)
    def guarded():
        return 1

    result = pipeline_of(tmp_path, guarded).run()
    assert result.step_results["guarded"].reason == (
        "condition check failed: ZeroDivisionError: division by zero"
    )


def test_tags_resources_and_execution_group_are_kept_and_shown(tmp_path: Path) -> None:
    @step(
        outputs=["model/trained"],
        tags={"team": "ml"},
        resources={"cpu": "4", "memory": "16Gi"},
        execution_group="training",
        pipeline="training",
        register=False,
    )
    def train():
        return 1

    (info,) = pipeline_of(tmp_path, train).graph().infos
    assert info.tags == {"team": "ml", "pipeline": "training"}
    assert info.resources == "{'cpu': '4', 'memory': '16Gi'}"
    assert info.execution_group == "training"
    assert train.register is False
    assert train.resources == {"cpu": "4", "memory": "16Gi"}


def test_cache_true_is_the_default_strategy(tmp_path: Path) -> None:
    @step(outputs=["x"], cache=True)
    def value():
        return 1

    assert value.cache_label == "code_hash"
    pipeline = pipeline_of(tmp_path, value)
    pipeline.run()
    assert pipeline.run().step_results["value"].cached


def test_a_flowyml_key_function_of_inputs_and_context(tmp_path: Path) -> None:
    seen = []

    def by_day(inputs, context):
        seen.append((inputs, context))
        return f"day-{context['day']}"

    @step(outputs=["report"], cache=by_day)
    def report(day):
        return f"report for {day}"

    pipeline = pipeline_of(tmp_path, report, day=1)
    pipeline.run()
    assert pipeline.run().step_results["report"].cached
    assert seen[0] == ({}, {"day": 1})
    assert pipeline.run(context={"day": 2}).step_results["report"].status.value == "executed"


def test_wrong_keyword_values_say_what_to_write() -> None:
    with pytest.raises(StepDefinitionError, match="retry must be a whole number"):
        step(retry=-1)(lambda: 1)
    with pytest.raises(StepDefinitionError, match="timeout must be a positive number"):
        step(timeout=0)(lambda: 1)
    with pytest.raises(StepDefinitionError, match="fn\\(inputs, context\\)"):
        step(cache=lambda only: "k")(lambda: 1)


def test_retry_and_timeout_travel_with_a_pickled_task() -> None:
    import pickle

    from flowyml_tui.engine.run.runner import StepTask, run_task

    def fails():
        raise OSError("down")

    task = pickle.loads(pickle.dumps(StepTask("s", fails, {}, retry=1, timeout=2.5)))
    assert (task.retry, task.timeout) == (1, 2.5)
    assert run_task(task).retries == 1


def test_retry_and_timeout_hold_in_worker_processes(tmp_path: Path) -> None:
    from flowyml_tui.engine.run.process import ProcessRunner

    marker = tmp_path / "tried"

    @step(outputs=["a"], retry=1)
    def flaky():
        if not marker.exists():
            marker.write_text("1")
            raise ConnectionError("blip")
        return 1

    @step(outputs=["b"], timeout=0.5)
    def hangs():
        time.sleep(30)

    runner = ProcessRunner(max_workers=2)
    try:
        result = pipeline_of(tmp_path, flaky, hangs).run(runner=runner)
    finally:
        runner.close()
    assert result.step_results["flaky"].retries == 1
    assert result["a"] == 1
    assert result.step_results["hangs"].reason == "failed: StepTimeout: timed out after 0.5 s"
