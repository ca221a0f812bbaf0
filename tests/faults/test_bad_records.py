"""A bad run record is skipped with a warning, never a traceback, and never hides the others.

Each kind of damage is applied to a copy of a real record (written by a real run) placed
beside the good one: `runs` lists the good one, `report` renders it, and asking for the bad
one by id is a one-line error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowyml_tui.engine.history.records import (
    RunRecordError,
    RunRecordWarning,
    list_runs,
    load_run,
    runs_dir,
)
from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline
from flowyml_tui.report.export import render

from . import harness

Edit = Callable[[dict[str, Any]], Any]


def _set(field: str, value: Any) -> Edit:
    return lambda record: {**record, field: value}


def _step(field: str, value: Any) -> Edit:
    def edit(record: dict[str, Any]) -> dict[str, Any]:
        steps = [dict(s) for s in record["steps"]]
        steps[0][field] = value
        return {**record, "steps": steps}

    return edit


def _drop_step_field(field: str) -> Edit:
    def edit(record: dict[str, Any]) -> dict[str, Any]:
        steps = [dict(s) for s in record["steps"]]
        del steps[0][field]
        return {**record, "steps": steps}

    return edit


JSON_DAMAGE: dict[str, Edit] = {
    "totals a string": _set("totals", "x"),
    "totals with a string count": _set("totals", {"executed": "2"}),
    "steps null": _set("steps", None),
    "steps of strings": _set("steps", ["make"]),
    "started_at a string": _set("started_at", "yesterday"),
    "finished_at null": _set("finished_at", None),
    "run_id a number": _set("run_id", 5),
    "schema_version a string": _set("schema_version", "1"),
    "warnings a string": _set("warnings", "many"),
    "a step's diff a number": _step("diff", 5),
    "a step's log a string": _step("log", "lines"),
    "a step's output_sizes of strings": _step("output_sizes", {"made": "big"}),
    "a step without a name": _drop_step_field("name"),
    "a list, not a record": lambda record: [record],
}
BYTE_DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "binary garbage": lambda data: bytes(range(256)) * 4,
}


@pytest.fixture(scope="module")
def good_record(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """A real record written by a real run, once for the module."""
    root = tmp_path_factory.mktemp("records")
    path = harness.write_pipeline(root, size=1024)
    pipeline = pick_pipeline(load_pipelines(path), None, path)
    pipeline.cache_dir = root / "cache"
    pipeline.run(context={"n": 3})
    (record_path,) = runs_dir(root / "cache").glob("*.json")
    return record_path, json.loads(record_path.read_bytes())


def _cache_with(tmp_path: Path, good: tuple[Path, dict[str, Any]], bad: bytes) -> Path:
    cache = tmp_path / "cache"
    runs = runs_dir(cache)
    runs.mkdir(parents=True)
    record_path, _ = good
    (runs / record_path.name).write_bytes(record_path.read_bytes())
    (runs / "zz-bad-run.json").write_bytes(bad)  # sorts last, written last: the "newest"
    return cache


def _damaged(good, kind: str) -> bytes:
    record = good[1]
    if kind in JSON_DAMAGE:
        damaged = JSON_DAMAGE[kind](record)
        if isinstance(damaged, dict) and damaged.get("run_id") == record["run_id"]:
            damaged["run_id"] = "zz-bad-run"
        return json.dumps(damaged).encode()
    return BYTE_DAMAGE[kind](json.dumps({**record, "run_id": "zz-bad-run"}).encode())


KINDS = sorted(JSON_DAMAGE) + sorted(BYTE_DAMAGE)


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_record_is_skipped_with_a_warning_and_the_good_one_still_shows(
    tmp_path, good_record, kind
):
    cache = _cache_with(tmp_path, good_record, _damaged(good_record, kind))
    good_id = good_record[1]["run_id"]
    with pytest.warns(RunRecordWarning, match="zz-bad-run"):
        runs = list_runs(cache)
    assert [r.run_id for r in runs] == [good_id]
    with pytest.warns(RunRecordWarning):
        assert load_run(cache, "latest")["run_id"] == good_id
    with pytest.raises(RunRecordError, match="zz-bad-run"):
        load_run(cache, "zz-bad-run")
    for fmt in ("md", "html", "json"):
        assert good_id in render(load_run(cache, good_id), fmt)


@pytest.mark.parametrize("kind", ["steps null", "a step's diff a number", "truncated"])
def test_runs_and_report_commands_say_what_is_wrong_without_a_traceback(
    tmp_path, good_record, kind
):
    cache = _cache_with(tmp_path, good_record, _damaged(good_record, kind))
    for args in (["runs"], ["report", "-f", "md"], ["report", "zz-bad-run", "-f", "md"]):
        done = subprocess.run(
            [sys.executable, "-m", "flowyml_tui", *args, "--cache-dir", str(cache)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in done.stderr, done.stderr
        if "zz-bad-run" in args:
            assert done.returncode != 0 and "zz-bad-run" in done.stderr
        else:
            assert done.returncode == 0, done.stderr
            assert good_record[1]["run_id"] in done.stdout
