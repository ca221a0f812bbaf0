"""flowyml files are found as flowyml finds them, and an import-time `run()` is not doubled."""

from __future__ import annotations

from pathlib import Path

from flowyml_tui.engine.events import RunStarted, event_from_json
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.runner.watch import discover_pipeline_files
from tests.cli_process import run_cli

SCRIPT = """
from pathlib import Path
from flowyml_tui import Pipeline, step

CALLS = Path(__file__).with_name("calls.txt")


@step(outputs=["data/raw"], tags={"stage": "ingest"})
def load():
    CALLS.write_text((CALLS.read_text() if CALLS.exists() else "") + "load\\n")
    return [1, 2]


@step(inputs=["data/raw"], outputs=["total"])
def total(raw):
    return sum(raw)


pipeline = Pipeline.from_steps(load, total, name="script")
result = pipeline.run()
print(f"Results: {result.outputs}")
"""


def test_a_from_steps_file_is_discovered_in_a_folder(write_file, tmp_path: Path) -> None:
    path = write_file("proj/script.py", SCRIPT)
    write_file("proj/helpers.py", "def util():\n    return 1\n")
    assert discover_pipeline_files([tmp_path / "proj"]) == [path.resolve()]


def test_a_create_pipeline_file_is_discovered(write_file, tmp_path: Path) -> None:
    path = write_file(
        "proj/factory.py",
        "from flowyml_tui import Pipeline\n\ndef create_pipeline():\n    return Pipeline('f')\n",
    )
    assert discover_pipeline_files([tmp_path / "proj"]) == [path.resolve()]


def test_an_import_time_run_runs_on_our_engine_and_the_script_sees_its_outputs(
    write_file, tmp_path: Path, capsys
) -> None:
    path = write_file("script.py", SCRIPT)
    ran = []

    def in_tmp(pipeline, context):
        pipeline.cache_dir = tmp_path / "c"
        ran.append(pipeline.run(context))
        return ran[-1]

    pipelines = load_pipelines(path, in_tmp)
    assert list(pipelines) == ["script"]
    assert path.with_name("calls.txt").read_text() == "load\n"
    assert ran[0]["total"] == 3
    assert "Results: " in capsys.readouterr().out
    load_pipelines(path, in_tmp)  # the script again: its run is a cache hit
    assert path.with_name("calls.txt").read_text() == "load\n"
    assert ran[1].step_results["load"].cached


def test_flowyml_tui_run_runs_a_script_once(write_file, tmp_path: Path) -> None:
    path = write_file("script.py", SCRIPT)
    done = run_cli("run", path, "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert path.with_name("calls.txt").read_text() == "load\n"


def test_step_info_carries_flowyml_settings_over_the_wire(
    write_file, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the script's own run() uses its default cache, here
    path = write_file("script.py", SCRIPT)
    pipeline = load_pipelines(path)["script"]
    pipeline.cache_dir = tmp_path / "c"
    events = []
    pipeline.run(on_event=events.append)
    started = event_from_json(events[0].to_json())
    assert isinstance(started, RunStarted)
    assert started.steps[0].tags == {"stage": "ingest"}
    assert started.steps[0].outputs == ("data/raw",)
