"""Run records: what a real run leaves in <cache_dir>/runs/, and how it is listed and loaded."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flowyml_tui.engine.events import RunFinished, RunStarted, StepInfo, StepLog, event_from_json
from flowyml_tui.engine.history import records
from flowyml_tui.engine.history.records import (
    LOG_EXCERPT_LINES,
    SCHEMA_PATH,
    NoRunsError,
    RunRecorder,
    RunRecordError,
    RunRecordWarning,
    UnknownRunError,
    list_runs,
    load_run,
    prune_runs,
    runs_dir,
    write_record_bytes,
)
from flowyml_tui.engine.load.loader import load_pipelines

pytestmark = pytest.mark.timeout(30)

PIPELINE = """
from flowyml_tui import Pipeline, step


@step(outputs=["raw"])
def load_data(n):
    print("loading", n)
    return list(range(n))


@step(inputs=["raw"], outputs=["clean"])
def clean_data(raw):
    return [x * FACTOR for x in raw]


@step(inputs=["clean"], outputs=["total"])
def summarise(clean):
    for i in range(LINES):
        print("line", i)
    return sum(clean)


pipeline = Pipeline("records_example")
pipeline.add_step(load_data).add_step(clean_data).add_step(summarise)
"""

FAILING = """
from flowyml_tui import Pipeline, step


@step(outputs=["raw"])
def load_data():
    return [1, 2, 3]


@step(inputs=["raw"], outputs=["model"])
def train(raw):
    raise ValueError("learning rate too high")


@step(inputs=["model"], outputs=["score"])
def evaluate(model):
    return 1.0


pipeline = Pipeline("failing_example")
pipeline.add_step(load_data).add_step(train).add_step(evaluate)
"""


def run_source(
    tmp_path: Path, source: str, *, recorder: RunRecorder | None = None, **context: Any
) -> Any:
    """Write `source` as a pipeline file, import it fresh and run it with a cache in tmp_path."""
    path = tmp_path / "records_example.py"
    path.write_text(source)
    (pipeline,) = load_pipelines(path).values()
    pipeline.cache_dir = tmp_path / "cache"
    return pipeline.run(context=context, on_event=recorder)


def example(factor: str = "2", lines: int = 3) -> str:
    return PIPELINE.replace("FACTOR", factor).replace("LINES", str(lines))


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def test_a_real_run_writes_a_record_that_matches_the_schema(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path / "records")
    result = run_source(tmp_path, example(), recorder=recorder, n=5)

    assert recorder.error is None
    assert recorder.path == runs_dir(tmp_path / "records") / f"{result.run_id}.json"
    record = json.loads(recorder.path.read_text())
    jsonschema.validate(record, schema())
    assert record["run_id"] == result.run_id
    assert record["pipeline"] == "records_example"
    assert record["source_file"].endswith("records_example.py")
    assert [s["name"] for s in record["steps"]] == ["load_data", "clean_data", "summarise"]
    assert record["totals"]["executed"] == 3
    assert record["totals"]["cached"] == 0
    load = record["steps"][0]
    assert load["log"]["lines"] == ["loading 5"]
    assert load["output_fingerprints"].keys() == {"raw"}
    assert load["code_hash"]


def test_an_edit_between_runs_is_recorded_as_a_code_change_with_its_diff(
    tmp_path: Path,
) -> None:
    run_source(tmp_path, example("2"), n=5)
    recorder = RunRecorder(tmp_path / "records")
    run_source(tmp_path, example("3"), recorder=recorder, n=5)

    steps = {s["name"]: s for s in recorder.record["steps"]}
    assert steps["load_data"]["status"] == "cached"
    assert steps["load_data"]["saved_seconds"] >= 0
    assert steps["clean_data"]["status"] == "executed"
    assert steps["clean_data"]["reason_kind"] == "code_changed"
    assert "-    return [x * 2 for x in raw]" in steps["clean_data"]["diff"]
    assert "+    return [x * 3 for x in raw]" in steps["clean_data"]["diff"]
    assert steps["summarise"]["status"] == "executed"
    totals = recorder.record["totals"]
    assert (totals["executed"], totals["cached"]) == (2, 1)
    assert totals["hit_rate"] == pytest.approx(1 / 3)
    jsonschema.validate(recorder.record, schema())


def test_the_pipeline_writes_its_own_record_into_its_cache_dir(tmp_path: Path) -> None:
    result = run_source(tmp_path, example(), n=2)

    assert load_run(tmp_path / "cache", "latest")["run_id"] == result.run_id


def test_a_step_log_keeps_only_its_last_lines(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path / "records")
    run_source(tmp_path, example(lines=LOG_EXCERPT_LINES + 50), recorder=recorder, n=2)

    log = recorder.record["steps"][2]["log"]
    assert len(log["lines"]) == LOG_EXCERPT_LINES
    assert log["lines"][-1] == f"line {LOG_EXCERPT_LINES + 49}"
    assert log["lines"][0] == "line 50"
    assert log["total_lines"] == LOG_EXCERPT_LINES + 50
    assert log["truncated"] is True


def test_a_failed_step_records_its_traceback_and_the_steps_it_stopped(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path / "records")
    run_source(tmp_path, FAILING, recorder=recorder)

    record = recorder.record
    steps = {s["name"]: s for s in record["steps"]}
    assert record["status"] == "failed"
    assert steps["train"]["status"] == "failed"
    assert "ValueError: learning rate too high" in steps["train"]["error"]
    assert steps["evaluate"]["status"] == "skipped"
    assert record["totals"]["failed"] == 1
    jsonschema.validate(record, schema())


def test_only_the_newest_records_are_kept(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path / "records", keep=3)
    ids = []
    for n in range(5):
        ids.append(run_source(tmp_path, example(), recorder=recorder, n=n).run_id)
        path = recorder.path
        os.utime(path, (1_000_000 + n, 1_000_000 + n))  # write order, whatever the clock

    kept = sorted(p.stem for p in runs_dir(tmp_path / "records").glob("*.json"))
    assert kept == sorted(ids[-3:])
    assert [run.run_id for run in list_runs(tmp_path / "records")] == ids[:-4:-1]


def test_pruning_keeps_the_records_written_last_whatever_their_names(tmp_path: Path) -> None:
    """Run ids sort by start time; a long run finishes after shorter ones started later, and
    its record must outlive theirs. Times are read once per process, so this prunes
    repeatedly in one process, as runs do."""
    cache = tmp_path / "cache"
    for n, name in enumerate(["20990101-000000-late", "20000101-000000-long", "20500101-0-mid"]):
        path = write_record_bytes(cache, name, b"{}")
        os.utime(path, (1_000_000 + n, 1_000_000 + n))  # written in this order
        prune_runs(cache, keep=2)
    kept = sorted(p.stem for p in runs_dir(cache).glob("*.json"))
    assert kept == ["20000101-000000-long", "20500101-0-mid"]

    again = write_record_bytes(cache, "20000101-000000-long", b"{}")  # written again: newest
    os.utime(again, (2_000_000, 2_000_000))
    write_record_bytes(cache, "21000101-000000-next", b"{}")
    os.utime(runs_dir(cache) / "21000101-000000-next.json", (1_500_000, 1_500_000))
    prune_runs(cache, keep=2)
    kept = sorted(p.stem for p in runs_dir(cache).glob("*.json"))
    assert kept == ["20000101-000000-long", "21000101-000000-next"]


def test_pruning_removes_a_dropped_runs_log_folder_and_nothing_that_only_looks_like_one(
    tmp_path: Path,
) -> None:
    """The listing is names only: a folder is looked at only when its run's record goes, and
    a file named like a run's folder is not a folder."""
    cache = tmp_path / "cache"
    for n, name in enumerate(["20000101-a", "20000101-b", "20000101-c"]):
        path = write_record_bytes(cache, name, b"{}")
        os.utime(path, (1_000_000 + n, 1_000_000 + n))
    runs = runs_dir(cache)
    (runs / "20000101-a").mkdir()  # the oldest run's logs
    (runs / "20000101-a" / "step.log").write_text("out")
    (runs / "20000101-c").mkdir()  # the newest run's logs
    (runs / "20000101-b-notes").write_text("not a folder")

    removed = prune_runs(cache, keep=2)

    assert sorted(p.name for p in removed) == ["20000101-a", "20000101-a.json"]
    assert sorted(p.name for p in runs.iterdir()) == [
        "20000101-b-notes",
        "20000101-b.json",
        "20000101-c",
        "20000101-c.json",
    ]


def test_a_record_whose_temp_name_is_taken_is_written_under_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    write_record_bytes(cache, "first", b"{}")
    monkeypatch.setattr(records, "_temps", itertools.count(7))
    taken = runs_dir(cache) / f".second.{os.getpid()}-7.tmp"
    taken.write_bytes(b"someone else's")

    path = write_record_bytes(cache, "second", b'{"mine": 1}')

    assert path.read_bytes() == b'{"mine": 1}'
    assert taken.read_bytes() == b"someone else's"


def test_a_smaller_record_after_a_bigger_one_is_exactly_its_own(tmp_path: Path) -> None:
    """Records are encoded into a buffer kept for the thread's next one: nothing of a bigger
    record may be left behind in a smaller one, nor in what the recorder hands back."""
    big, small = RunRecorder(tmp_path / "a"), RunRecorder(tmp_path / "b")
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    run_source(tmp_path / "one", example(lines=150), recorder=big, n=50)
    run_source(tmp_path / "two", example(lines=0), recorder=small, n=1)

    for recorder in (big, small):
        assert recorder.path is not None
        on_disk = json.loads(recorder.path.read_bytes())
        jsonschema.validate(on_disk, schema())
        assert on_disk == recorder.record
    assert len(big.record["steps"][2]["log"]["lines"]) == 150
    assert small.record["steps"][2]["log"]["lines"] == []


def test_a_record_that_cannot_be_written_warns_and_leaves_the_run_alone(tmp_path: Path) -> None:
    blocked = tmp_path / "records"
    blocked.mkdir()
    (blocked / "runs").write_text("a file where the runs folder should be")
    recorder = RunRecorder(blocked)

    with pytest.warns(RunRecordWarning, match="not written"):
        result = run_source(tmp_path, example(), recorder=recorder, n=3)

    assert result.status == "succeeded"
    assert recorder.path is None
    assert "runs" in recorder.error


def test_list_runs_skips_a_corrupt_record_with_a_warning(tmp_path: Path) -> None:
    good = run_source(tmp_path, example(), n=3)
    (runs_dir(tmp_path / "cache") / "20990101-000000-dead.json").write_text('{"run_id": ')

    with pytest.warns(RunRecordWarning, match="20990101-000000-dead"):
        runs = list_runs(tmp_path / "cache")

    assert [run.run_id for run in runs] == [good.run_id]
    assert runs[0].executed == 3


def test_latest_is_the_run_that_finished_last(tmp_path: Path) -> None:
    first = run_source(tmp_path, example("2"), n=3)
    second = run_source(tmp_path, example("3"), n=3)

    assert load_run(tmp_path / "cache")["run_id"] == second.run_id
    assert load_run(tmp_path / "cache", first.run_id)["run_id"] == first.run_id


def test_a_unique_prefix_of_a_run_id_is_enough(tmp_path: Path) -> None:
    result = run_source(tmp_path, example(), n=3)
    recorder = RunRecorder(tmp_path / "records")
    start = RunStarted("zz-only", pipeline="p", started_at=1.0, steps=())
    for event in (start, RunFinished("zz-only", "p", "succeeded", 1.0, 2.0, 1.0)):
        recorder(event)

    assert load_run(tmp_path / "records", "zz-o")["run_id"] == "zz-only"
    assert load_run(tmp_path / "cache", result.run_id[:-2])["run_id"] == result.run_id


def test_an_unknown_run_id_lists_the_runs_there_are(tmp_path: Path) -> None:
    result = run_source(tmp_path, example(), n=3)

    with pytest.raises(UnknownRunError, match=f"no run 'nope'.*available: {result.run_id}"):
        load_run(tmp_path / "cache", "nope")


def test_a_run_id_cannot_reach_outside_the_runs_folder(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text('{"run_id": "secret", "schema_version": 1}')

    with pytest.raises(UnknownRunError, match="not a run id"):
        load_run(tmp_path / "cache", "../../secret")


def test_an_empty_cache_says_to_run_something_first(tmp_path: Path) -> None:
    with pytest.raises(NoRunsError, match="run a pipeline first"):
        load_run(tmp_path / "cache")
    assert list_runs(tmp_path / "cache") == []


def test_a_record_from_a_newer_version_is_refused_clearly(tmp_path: Path) -> None:
    folder = runs_dir(tmp_path / "cache")
    folder.mkdir(parents=True)
    (folder / "future.json").write_text('{"run_id": "future", "schema_version": 99}')

    with pytest.raises(RunRecordError, match=r"schema_version 99.*upgrade"):
        load_run(tmp_path / "cache", "future")


def test_output_split_across_chunks_is_joined_into_lines(tmp_path: Path) -> None:
    recorder = RunRecorder(tmp_path)
    info = StepInfo("s", (), ("x",), (), "code_hash")
    recorder(RunStarted("r", pipeline="p", started_at=1.0, steps=(info,)))
    for chunk in ("hel", "lo\nwor", "ld\n", "no newline at the end"):
        recorder(StepLog("r", step="s", stream="stdout", text=chunk))
    recorder(RunFinished("r", "p", "cancelled", 1.0, 2.0, 1.0))

    step = recorder.record["steps"][0]
    assert step["log"]["lines"] == ["hello", "world", "no newline at the end"]
    assert step["status"] == "skipped"  # never finished: the run ended first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jsonschema.validate(recorder.record, schema())


def test_when_run_returns_the_run_is_on_disk_and_no_thread_of_ours_is_left(
    tmp_path: Path,
) -> None:
    path = tmp_path / "records_example.py"
    path.write_text(example())
    (pipeline,) = load_pipelines(path).values()
    for _ in range(30):  # the old background writer lost this race about one time in six
        with tempfile.TemporaryDirectory() as cache_dir:
            pipeline.cache_dir = cache_dir
            result = pipeline.run(n=3)
            ours = [t.name for t in threading.enumerate() if t.name.startswith("flowyml")]
            assert ours == []
            assert (runs_dir(cache_dir) / f"{result.run_id}.json").is_file()


def test_output_with_a_lone_surrogate_is_still_recorded_and_sent(tmp_path: Path) -> None:
    # A file name decoded with surrogateescape, printed by a step: JSON can escape it.
    source = PIPELINE.replace('print("loading", n)', 'print("loading", "caf\\udce9")')
    recorder = RunRecorder(tmp_path / "records")
    result = run_source(
        tmp_path, source.replace("FACTOR", "2").replace("LINES", "1"), recorder=recorder, n=2
    )

    assert recorder.error is None
    assert recorder.record["steps"][0]["log"]["lines"] == ["loading caf\udce9"]
    log = next(e for e in result.events if isinstance(e, StepLog))
    assert event_from_json(log.to_json()) == log
    assert load_run(tmp_path / "records")["steps"][0]["log"]["lines"] == ["loading caf\udce9"]
