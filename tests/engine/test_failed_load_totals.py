"""A step served from the cache whose value then fails to load runs again: it is counted once,
as executed, by the CLI, the run record and the TUI's model alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowyml_tui.engine.events import RunStarted
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.tui.state import RunModel
from tests.cli_process import run_cli

pytestmark = pytest.mark.timeout(120)

PIPE = """
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def first():
    return "x" * 70_000

@step(inputs=["a"], outputs=["b"], cache=False)
def second(a):
    return len(a)

pipeline = Pipeline("big").add_step(first).add_step(second)
"""
"""`first`'s value is a file of its own (over diskcache's 32 KiB); `second` always runs, so it
loads `first`'s cached value."""


def damage_the_value_file(cache: Path) -> None:
    (value,) = list((cache / "store").rglob("*.val"))
    data = bytearray(value.read_bytes())
    data[100] ^= 0xFF
    value.write_bytes(bytes(data))


def test_the_cli_and_the_record_count_the_rerun_step_once_as_executed(write_file, tmp_path):
    pipe, cache = write_file("big.py", PIPE), tmp_path / "cache"
    assert run_cli("run", pipe, "--cache-dir", cache).returncode == 0
    damage_the_value_file(cache)
    done = run_cli("run", pipe, "--cache-dir", cache, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["status"] for s in data["steps"]] == ["executed", "executed"]
    totals = data["totals"]
    assert (totals["steps"], totals["executed"], totals["cached"]) == (2, 2, 0)
    assert totals["saved_seconds"] == 0
    record = json.loads((cache / "runs" / f"{data['run_id']}.json").read_text())
    assert (record["totals"]["executed"], record["totals"]["cached"]) == (2, 0)
    damage_the_value_file(cache)
    line = run_cli("run", pipe, "--cache-dir", cache).stdout.splitlines()[-1]
    assert line.startswith("2 steps, 2 executed, 0 cached · hit rate 0%"), line


def test_the_tui_model_counts_it_once_too(write_file, tmp_path):
    pipe, cache = write_file("big.py", PIPE), tmp_path / "cache"
    pipeline = load_pipelines(pipe)["big"]
    pipeline.cache_dir = cache
    pipeline.run()
    damage_the_value_file(cache)
    events: list[object] = []
    result = pipeline.run(on_event=events.append)
    model = RunModel()
    for event in events:
        model.apply(event, 0.0)
    assert isinstance(events[0], RunStarted)
    for totals in (model.totals(), result.totals):
        assert (totals.steps, totals.executed, totals.cached) == (2, 2, 0)
