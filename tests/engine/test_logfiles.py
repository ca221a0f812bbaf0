"""A step's whole output goes to a log file in its run's folder; memory keeps a bounded tail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jsonschema
import pytest

from flowyml_tui.engine.call.log_files import TAIL_CHUNKS, LogFiles, log_file_name
from flowyml_tui.engine.events import StepLog
from flowyml_tui.engine.history.records import (
    LOG_EXCERPT_LINES,
    SCHEMA_PATH,
    load_run,
    prune_runs,
    runs_dir,
)
from flowyml_tui.engine.load.loader import load_pipelines

pytestmark = pytest.mark.timeout(60)

NOISY = """
from flowyml_tui import Pipeline, step


@step(outputs=["n"])
def noisy():
    for i in range(LINES):
        print(f"line {i}")
    return LINES


@step(inputs=["n"], outputs=["quiet"])
def quiet(n):
    return n


pipeline = Pipeline("noisy", enable_cache=False).add_step(noisy).add_step(quiet)
"""


def run_noisy(tmp_path: Path, lines: int, **run_kwargs: object):
    path = tmp_path / "noisy.py"
    path.write_text(NOISY.replace("LINES", str(lines)), encoding="utf-8")
    (pipeline,) = load_pipelines(path).values()
    pipeline.cache_dir = str(tmp_path / "cache")
    return pipeline.run(**run_kwargs)


def test_every_line_a_step_prints_is_in_its_log_file_and_the_record_names_it(tmp_path):
    result = run_noisy(tmp_path, 3 * TAIL_CHUNKS)

    record = load_run(tmp_path / "cache", result.run_id)
    log = record["steps"][0]["log"]
    assert log["file"] == f"runs/{result.run_id}/logs/noisy.log"
    text = (tmp_path / "cache" / log["file"]).read_text(encoding="utf-8")
    assert text.splitlines() == [f"line {i}" for i in range(3 * TAIL_CHUNKS)]
    assert "file" not in record["steps"][1]["log"] or record["steps"][1]["log"]["file"] is None
    jsonschema.validate(record, json.loads(SCHEMA_PATH.read_text()))


def test_the_record_excerpt_still_keeps_the_last_lines(tmp_path):
    lines = 3 * TAIL_CHUNKS
    result = run_noisy(tmp_path, lines)

    log = load_run(tmp_path / "cache", result.run_id)["steps"][0]["log"]
    assert log["lines"] == [f"line {i}" for i in range(lines - LOG_EXCERPT_LINES, lines)]
    assert log["total_lines"] == lines and log["truncated"]


def test_memory_keeps_only_a_tail_of_a_long_output(tmp_path):
    lines = 5 * TAIL_CHUNKS
    seen: list[str] = []

    result = run_noisy(
        tmp_path, lines, on_event=lambda e: seen.append(e.text) if isinstance(e, StepLog) else None
    )

    logs = result.step_results["noisy"].logs
    events = [e for e in result.events if isinstance(e, StepLog)]
    assert len(seen) == lines  # every chunk was still sent live
    assert TAIL_CHUNKS <= len(logs) <= 2 * TAIL_CHUNKS
    assert logs[-1] == ("stdout", f"line {lines - 1}\n")
    assert [e.text for e in events] == [text for _, text in logs]  # the same tail, in order
    assert result.totals.executed == 2  # the run's other events are all still there


def test_a_short_output_is_kept_whole_in_memory(tmp_path):
    result = run_noisy(tmp_path, 3)

    assert result.step_results["noisy"].logs == [("stdout", f"line {i}\n") for i in range(3)]


def test_pruned_runs_take_their_log_folders_with_them(tmp_path):
    first = run_noisy(tmp_path, 2)
    folder = runs_dir(tmp_path / "cache") / first.run_id
    assert folder.is_dir()
    time.sleep(0.01)  # records are ordered by write time
    run_noisy(tmp_path, 2)

    prune_runs(tmp_path / "cache", keep=1)

    assert not folder.exists()
    assert len([p for p in runs_dir(tmp_path / "cache").iterdir() if p.is_dir()]) == 1


def test_a_log_folder_without_a_record_is_kept_while_its_run_may_still_write(tmp_path):
    run_noisy(tmp_path, 2)
    running = runs_dir(tmp_path / "cache") / "another-process-run" / "logs"
    running.mkdir(parents=True)
    (running / "step.log").write_text("still going\n")

    prune_runs(tmp_path / "cache", keep=1)

    assert (running / "step.log").exists()
    old = time.time() - 2 * 3600
    for path in (running / "step.log", running, running.parent):
        os.utime(path, (old, old))
    prune_runs(tmp_path / "cache", keep=1)
    assert not running.parent.exists()


def test_step_names_that_are_not_file_names_get_distinct_files():
    names = {log_file_name(n) for n in ("a/b", "a_b", "a\\b", "..", "", "ü")}

    assert len(names) == 6
    assert all("/" not in n and not n.startswith(".") and n.endswith(".log") for n in names)


def test_a_log_that_cannot_be_written_is_an_error_and_no_file_is_named(tmp_path):
    (tmp_path / "run").write_text("a file where the run folder should be")
    files = LogFiles(tmp_path / "run", tmp_path)

    files.write("s", "hello\n")

    assert files.error is not None and "run/logs" in files.error
    assert files.relative_path("s") is None


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real ENOSPC")
def test_a_full_disk_for_logs_still_writes_the_record_with_a_warning(tmp_path, monkeypatch):
    real_start = LogFiles._start

    def onto_a_full_disk(self, step):
        real_start(self, step).close()
        return open("/dev/full", "w", encoding="utf-8")  # every flush fails with ENOSPC

    monkeypatch.setattr(LogFiles, "_start", onto_a_full_disk)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_noisy(tmp_path, 3)

    record = load_run(tmp_path / "cache", result.run_id)
    assert record["steps"][0]["log"]["file"] is None
    assert record["steps"][0]["log"]["lines"] == ["line 0", "line 1", "line 2"]
    assert any("No space left" in str(w.message) for w in caught)
    assert not list((runs_dir(tmp_path / "cache") / result.run_id / "logs").iterdir())


MEASURE = """
import sys
from pathlib import Path

def kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])

from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.cli.run import LivePrinter
import io

(pipeline,) = load_pipelines(Path(sys.argv[1])).values()
pipeline.cache_dir = sys.argv[2]
before = kb("VmRSS:")
pipeline.run(on_event=LivePrinter(io.StringIO(), verbose=False))
print((kb("VmHWM:") - before) / 1024)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak RSS from /proc")
def test_a_million_lines_keep_memory_bounded(tmp_path):
    path = tmp_path / "million.py"
    path.write_text(NOISY.replace("LINES", "1_000_000"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )

    extra_mb = float(done.stdout.strip().splitlines()[-1])
    assert extra_mb < 150, f"peak RSS grew by {extra_mb:.0f} MB for 1,000,000 lines"
