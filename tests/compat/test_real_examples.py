"""flowyml's own example scripts (`flowyml_examples/`, unchanged) run as their author runs them.

Each is a script: it builds pipelines at module level or inside `main()`, calls `run()`, and
reads what came back (`result.outputs['report']`, `pipeline.step_groups`, `if
result.success:`). `flowyml-tui run` runs every `run()` on our engine, cached and shown, and
the script's own code after `run()` sees the real outputs; a second invocation executes only
the `cache=False` steps.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from pathlib import Path

import pytest

from flowyml_tui.engine.events import RunFinished, RunStarted, StepFinished
from flowyml_tui.engine.load.loader import load_file
from flowyml_tui.runner.protocol import PipelinesFound
from flowyml_tui.runner.session import RunSession
from tests.cli_process import run_cli

pytestmark = [pytest.mark.usefixtures("real_flowyml"), pytest.mark.slow]

EXAMPLES = Path(__file__).with_name("flowyml_examples")


def example(name: str, tmp_path: Path) -> Path:
    """A copy of flowyml's example `name` in tmp_path, byte for byte."""
    return Path(shutil.copy(EXAMPLES / name, tmp_path / name))


def run(path: Path, tmp_path: Path, *args: str):
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", *args, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def runs_of(stdout: str) -> dict[str, str]:
    """Each pipeline's part of `flowyml-tui run`'s output, by pipeline name."""
    parts = stdout.split("\npipeline ")
    return {part.split(" · ", 1)[0].removeprefix("pipeline "): part for part in parts[1:]}


def test_module_level_runs_give_the_script_real_outputs_and_step_groups(tmp_path) -> None:
    path = example("step_grouping_example.py", tmp_path)
    first = run(path, tmp_path).stdout
    # The file's own code after each run(): real outputs, flowyml's own step_groups
    assert "Result: Report: 1000 records processed" in first
    assert "Groups created: 1" in first
    assert "Group 'preprocessing' contains 3 steps:" in first
    assert "✓ Training completed: {'accuracy': 0.95, 'model': 'trained_model_v1'}" in first
    assert "GPU: 2x nvidia-a100" in first  # flowyml's aggregation, from its build()
    assert "✓ Pipeline completed: final_model_deployed" in first
    assert "Group 1: 'same_name' with steps: ['step_a', 'step_b']" in first  # as flowyml says
    shown = runs_of(first)
    assert list(shown) == [
        "preprocessing_pipeline",
        "training_pipeline",
        "complex_pipeline",
        "non_consecutive",
    ]
    assert "4 steps, 4 executed" in shown["preprocessing_pipeline"]

    again = run(path, tmp_path).stdout
    assert "Result: Report: 1000 records processed" in again
    for name, part in runs_of(again).items():
        assert " 0 executed" in part, name  # no step says cache=False: all from the cache


def test_a_second_invocation_executes_only_the_cache_false_step(tmp_path) -> None:
    path = example("caching_pipeline.py", tmp_path)
    first = run(path, tmp_path).stdout
    inside = first.split("pipeline caching_example")[1:]
    assert len(inside) == 2  # the script runs it twice itself
    assert "3 executed" in inside[0]
    assert "1 executed, 2 cached" in inside[1]  # train_model is cache=False
    # pipeline.cache_stats(), flowyml's method, answered from our store: 2 misses, 2 hits
    assert "Cache hits: 2\nCache misses: 2\nHit rate: 50.0%" in first
    second = run(path, tmp_path).stdout.split("pipeline caching_example")[1:]
    assert all("1 executed, 2 cached" in part for part in second)
    assert "● ran      train_model" in second[0]


def test_if_result_success_blocks_run_with_the_real_result(tmp_path) -> None:
    done = run(example("conditional_pipeline.py", tmp_path), tmp_path)
    ours, after = done.stdout.split("pipeline conditional_example")[1].split(" · run ")
    assert "5 steps, 5 executed" in ours  # as flowyml 2.2.1 runs it: both conditions hold
    assert "✅ Pipeline completed!" in after  # `if result.success:`, true now
    assert "was skipped" not in after


def test_a_run_under_the_main_guard_runs_and_reports_its_run_id(tmp_path) -> None:
    done = run(example("simple_pipeline.py", tmp_path), tmp_path)
    assert "🚀 Running pipeline..." in done.stdout
    run_id = done.stdout.rsplit(" · run ", 1)[1].split()[0]
    assert f"Run ID: {run_id}" in done.stdout  # the script printed our run's id


def test_a_pipeline_built_in_main_runs_with_flowyml_hooks_and_metrics(
    tmp_path, monkeypatch, capsys
) -> None:
    """advanced_orchestration.py builds its pipeline in run_pipeline(), called under the
    guard; its process_data fails at random 30% of the time, so the test decides the draw."""
    monkeypatch.setattr(random, "random", lambda: 0.5)
    path = example("advanced_orchestration.py", tmp_path)

    def in_tmp(pipeline, context):
        pipeline.cache_dir = tmp_path / "c"
        return pipeline.run(context)

    loaded = load_file(path, in_tmp)
    assert list(loaded.pipelines) == ["advanced_demo"]
    (made,) = loaded.runs
    assert made.result.success
    assert [s.name for s in made.pipeline.steps] == ["ingest_data", "process_data", "train_model"]
    out = capsys.readouterr().out
    assert "🔧 [Hook] Setting up resources for advanced_demo..." in out
    assert "🧹 [Hook] Cleaning up. Final status: ✅ Success" in out
    assert f"'run_id': '{made.result.run_id}'" in out  # its ConsoleMetricsCollector
    assert out.count("📊 Step Ended") == 3
    assert f"Run ID: {made.result.run_id}" in out  # result.summary(), printed by the file


def test_the_workbench_worker_shows_the_selected_pipeline_of_a_script(tmp_path) -> None:
    path = example("step_grouping_example.py", tmp_path)
    session = RunSession(path, pipeline="complex_pipeline", cache_dir=str(tmp_path / "c"))

    async def main() -> list:
        try:
            return [message async for message in session.run()]
        finally:
            await session.aclose()

    messages = asyncio.run(main())
    started = [m for m in messages if isinstance(m, RunStarted)]
    assert [m.pipeline for m in started] == ["complex_pipeline"]  # only the selected one
    finished = [m.step for m in messages if isinstance(m, StepFinished)]
    assert finished == ["load_config", "fetch_data", "process_data", "train", "deploy"]
    assert isinstance(messages[-1], RunFinished) or any(
        isinstance(m, RunFinished) for m in messages
    )
    found = [m for m in messages if isinstance(m, PipelinesFound)]
    assert found[-1].names == (
        "preprocessing_pipeline",
        "training_pipeline",
        "complex_pipeline",
        "non_consecutive",
    )
    assert found[-1].selected == "complex_pipeline"


MAIN_WITH_CONTEXT = """
from flowyml import Pipeline, step

@step(outputs=["rows"])
def load_data(data_path: str):
    return f"read {data_path}"

def main():
    pipeline = Pipeline("clean_ml_pipeline")
    pipeline.add_step(load_data)
    result = pipeline.run(context={"data_path": "data/train.csv"})
    print("GOT", result.outputs["rows"])

if __name__ == "__main__":
    main()
"""


def test_the_context_a_script_passes_in_main_is_the_runs_and_c_overrides_it(
    write_file, tmp_path
) -> None:
    """clean_pipeline.py's pattern: the pipeline and its context exist only inside main()."""
    path = write_file("clean.py", MAIN_WITH_CONTEXT)
    assert "GOT read data/train.csv" in run(path, tmp_path).stdout
    overridden = run(path, tmp_path, "-c", "data_path=data/other.csv").stdout
    assert "GOT read data/other.csv" in overridden
    assert "1 executed" in overridden  # a new data_path: load_data runs again

    def in_tmp(pipeline, context):
        pipeline.cache_dir = tmp_path / "c"
        return pipeline.run(context)

    # what the workbench re-runs: the pipeline made in main(), with the context it was given
    loaded = load_file(path, in_tmp)
    assert loaded.pipelines["clean_ml_pipeline"].context == {"data_path": "data/train.csv"}
