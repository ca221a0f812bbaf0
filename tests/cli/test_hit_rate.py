"""One hit rate: the CLI, its JSON, the run record, the report and the TUI say the same number.

The pipeline has one step of each kind the definition treats apart: a hit, a step that asks the
cache and runs, a `cache=False` step, a failure and the step it leaves skipped. By the definition
(hits / (hits + executed + failed), cache-off and skipped steps aside) that is 1 / 3.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from flowyml_tui.engine.history.records import load_run
from flowyml_tui.engine.history.totals import totals_of_record
from flowyml_tui.report import render_markdown
from flowyml_tui.runner.session import RunSession
from flowyml_tui.tui.state import RunModel
from tests.cli_process import run_cli

pytestmark = pytest.mark.timeout(90)

MIXED = """
import time
from flowyml_tui import Pipeline, step

@step(outputs=["raw"])
def load():
    return [1, 2, 3]

@step(inputs=["raw"], outputs=["total"], cache=lambda step, inputs, context: str(time.time_ns()))
def measure(raw):  # asks the cache, but its key is new every run: executed
    return sum(raw)

@step(inputs=["raw"], outputs=["sent"], cache=False)
def upload(raw):
    return len(raw)

@step(inputs=["raw"], outputs=["model"])
def train(raw):
    raise ValueError("learning rate too high")

@step(inputs=["model"], outputs=["score"])
def evaluate(model):
    return 1.0

pipeline = Pipeline("mixed")
pipeline.add_step(load).add_step(measure).add_step(upload).add_step(train).add_step(evaluate)
"""

ONE_THIRD = pytest.approx(1 / 3)
STATUSES = {
    "load": "cached",
    "measure": "executed",
    "upload": "executed",
    "train": "failed",
    "evaluate": "skipped",
}


cli = run_cli


def tui_model(path: Path, cache: Path) -> RunModel:
    """The TUI's own path: a worker process streams messages, the model applies them."""
    model = RunModel()

    async def main() -> None:
        session = RunSession(path, cache_dir=str(cache), warm=False)
        try:
            async for message in session.run():
                model.apply(message, now=0.0)
        finally:
            await session.aclose()

    asyncio.run(main())
    return model


def test_every_view_of_a_run_gives_the_same_totals_and_hit_rate(write_file, tmp_path) -> None:
    path, cache = write_file("mixed.py", MIXED), tmp_path / "cache"
    assert cli("run", path, "--cache-dir", cache).returncode == 1  # fills the cache for load

    text = cli("run", path, "--cache-dir", cache)
    assert "5 steps, 2 executed, 1 cached, 1 failed, 1 skipped · hit rate 33% ·" in text.stdout
    text_run = re.search(r"· run (\S+)$", text.stdout.strip()).group(1)
    record = load_run(cache, text_run)
    assert {s["name"]: s["status"] for s in record["steps"]} == STATUSES
    totals = record["totals"]
    assert (totals["executed"], totals["cached"], totals["failed"]) == (2, 1, 1)
    assert totals["skipped"] == 1 and totals["steps"] == 5
    assert totals["hit_rate"] == ONE_THIRD
    markdown = render_markdown(record)
    assert "2 executed, 1 cached, 1 failed, 1 skipped" in markdown
    assert "hit rate **33%**" in markdown

    data = json.loads(cli("run", path, "--cache-dir", cache, "--json").stdout)
    assert {s["name"]: s["status"] for s in data["steps"]} == STATUSES
    assert data["hit_rate"] == ONE_THIRD
    assert data["totals"] == load_run(cache, data["run_id"])["totals"]

    model = tui_model(path, cache)
    assert {name: str(row.status) for name, row in model.rows.items()} == STATUSES
    assert model.hit_rate() == ONE_THIRD
    assert model.totals() == totals_of_record(load_run(cache, "latest")["steps"])


NOTHING_CACHED = """
from flowyml_tui import Pipeline, step

@step(outputs=["raw"], cache=False)
def load():
    return [1, 2, 3]

pipeline = Pipeline("uncached")
pipeline.add_step(load)
"""


def test_a_run_where_nothing_could_hit_has_no_hit_rate_rather_than_zero(write_file, tmp_path):
    path, cache = write_file("uncached.py", NOTHING_CACHED), tmp_path / "cache"
    cli("run", path, "--cache-dir", cache)

    assert (
        "1 step, 1 executed, 0 cached · hit rate \u2013 ·"
        in cli("run", path, "--cache-dir", cache).stdout
    )
    data = json.loads(cli("run", path, "--cache-dir", cache, "--json").stdout)
    assert data["hit_rate"] is None
    assert load_run(cache, data["run_id"])["totals"]["hit_rate"] is None
