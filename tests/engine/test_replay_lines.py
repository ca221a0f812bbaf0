"""A replayed run's record reuses the step lines of the run it replays (`history/replay_lines.py`)
and says exactly what a record built in full from the same events says. Real runs, real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowyml_tui.engine.events import RunFinished, RunStarted, StepFinished, StepInfo
from flowyml_tui.engine.history.records import RunRecorder, load_run
from flowyml_tui.engine.history.replay_lines import ReplayLines
from flowyml_tui.engine.history.savings import Rate

CHAIN = """
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def first():
    return 1

@step(inputs=["a"], outputs=["b"])
def second(a):
    return a + 1

@step(inputs=["b"], outputs=["c"])
def third(b):
    return f"{b} \\"quoted\\" started_at:null"

pipeline = Pipeline("lines").add_step(first).add_step(second).add_step(third)
"""


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record less what differs between two writers of one run: when and where written."""
    return {k: v for k, v in record.items() if k not in ("recorded_at", "cache_dir")}


def _fully_cached(write_file, load, tmp_path, source: str = CHAIN):
    pipeline = load(write_file("lines.py", source))
    pipeline.run()
    pipeline.run()  # fully cached: kept for the next runs to replay
    return pipeline, load_run(tmp_path / "cache", "latest")["run_id"]


def test_a_replays_record_is_the_record_its_events_make(write_file, load, tmp_path):
    pipeline, kept = _fully_cached(write_file, load, tmp_path)
    for n in range(3):
        full = tmp_path / f"full{n}"
        result = pipeline.run(on_event=RunRecorder(full))
        finished = result.events[-1]
        assert isinstance(finished, RunFinished)
        assert finished.replay_of == kept  # every replay replays the run that was kept
        spliced = load_run(tmp_path / "cache", result.run_id)
        assert _comparable(spliced) == _comparable(load_run(full, result.run_id))
        assert [s["started_at"] for s in spliced["steps"]] == [spliced["started_at"]] * 3


def test_the_first_replay_cuts_the_lines_from_the_kept_runs_own_record(write_file, load, tmp_path):
    """Not encoded again: the lines are views into the record the kept run wrote."""
    pipeline, _ = _fully_cached(write_file, load, tmp_path)
    pipeline.run()
    kept = pipeline._record_lines.kept
    pieces = kept.steps_json(0.0)
    assert len(pieces) == 2 * 3 + 1
    assert all(isinstance(piece, memoryview) for piece in pieces[::2])


def test_an_output_named_like_a_lines_start_is_recorded_as_a_full_build_records_it(
    write_file, load, tmp_path
):
    """A line holding the start's key twice (an output named `started_at`) is cut line by
    line, where each line's own start is the first: the record says the same."""
    named = CHAIN.replace('"b"', '"started_at"').replace("(b)", "(started_at)")
    named = named.replace("{b}", "{started_at}").replace("a + 1", "None")
    pipeline, kept = _fully_cached(write_file, load, tmp_path, named)
    full = tmp_path / "full"
    result = pipeline.run(on_event=RunRecorder(full))
    assert result.events[-1].replay_of == kept
    spliced = load_run(tmp_path / "cache", result.run_id)
    assert _comparable(spliced) == _comparable(load_run(full, result.run_id))
    assert spliced["steps"][1]["output_previews"] == {"started_at": "NoneType\nNone"}


def test_a_replay_at_another_rate_records_its_own_savings(write_file, load, tmp_path):
    pipeline, _ = _fully_cached(write_file, load, tmp_path)
    pipeline.run()
    pipeline.rate = Rate(3_600_000.0)  # a thousand a second: every saved microsecond shows
    full = tmp_path / "full"
    result = pipeline.run(on_event=RunRecorder(full, rate=pipeline.rate))
    assert result.events[-1].replay_of is not None
    spliced = load_run(tmp_path / "cache", result.run_id)
    assert _comparable(spliced) == _comparable(load_run(full, result.run_id))
    assert spliced["savings"]["cost_saved"] > 0
    assert spliced["steps"][0]["savings"]["cost_saved"] > 0


def _run_events(
    run_id: str, started_at: float, replay_of: str | None, infos, key: str = "key"
) -> list:
    durations = {"a": 0.5, "b": 0.0, "c": 1.25}  # steps placed at different offsets
    events: list = [RunStarted(run_id=run_id, pipeline="p", started_at=started_at, steps=infos)]
    for name, took in durations.items():
        events.append(
            StepFinished(
                run_id=run_id,
                step=name,
                status="cached",
                reason="cached",
                reason_kind="cached",
                cached=True,
                duration_seconds=took,
                saved_seconds=2.0,
                key=f"{name}-{key}",
                output_previews={name: 'a "quoted" started_at:null'},
            )
        )
    events.append(
        RunFinished(
            run_id=run_id,
            pipeline="p",
            status="succeeded",
            started_at=started_at,
            finished_at=started_at + 2,
            duration_seconds=2.0,
            cached=3,
            replay_of=replay_of,
        )
    )
    return events


def test_lines_at_several_offsets_are_placed_as_a_full_build_places_them(tmp_path: Path):
    infos = tuple(StepInfo(name, (), (name,), (), "code_hash") for name in "abc")
    lines = ReplayLines()
    kept = RunRecorder(tmp_path / "kept", lines=lines)
    for event in _run_events("run-1", 1_800_000_000.25, None, infos):
        kept(event)
    assert lines.kept is not None
    for n, start in enumerate((1_800_000_100.125, 1_800_000_200.0625)):
        spliced, full = RunRecorder(tmp_path / "kept", lines=lines), RunRecorder(tmp_path / "full")
        for event in _run_events(f"run-{n + 2}", start, "run-1", infos):
            spliced(event)
            full(event)
        record = load_run(tmp_path / "kept", f"run-{n + 2}")
        assert _comparable(record) == _comparable(load_run(tmp_path / "full", f"run-{n + 2}"))
        assert [s["offset_seconds"] for s in record["steps"]] == [0.0, 0.5, 0.5]
        assert record["steps"][2]["started_at"] == start + 0.5


def test_lines_of_another_run_or_other_steps_are_not_reused(tmp_path: Path):
    infos = tuple(StepInfo(name, (), (name,), (), "code_hash") for name in "abc")
    lines = ReplayLines()
    kept = RunRecorder(tmp_path / "kept", lines=lines)
    for event in _run_events("run-1", 1_800_000_000.0, None, infos):
        kept(event)
    recorder = RunRecorder(tmp_path / "kept", lines=lines)
    for event in _run_events("run-2", 1_800_000_100.0, "run-9", infos, key="other"):
        recorder(event)  # says it replayed a run whose lines are not the ones kept
    assert load_run(tmp_path / "kept", "run-2")["steps"][0]["key"] == "a-other"
    other = tuple(StepInfo(name, ("x",), (name,), (), "code_hash") for name in "abc")
    recorder = RunRecorder(tmp_path / "kept", lines=lines)
    for event in _run_events("run-3", 1_800_000_200.0, "run-9", other, key="other"):
        recorder(event)  # the run the lines were kept for, with other steps
    assert [s["inputs"] for s in load_run(tmp_path / "kept", "run-3")["steps"]] == [["x"]] * 3
