"""Break-even of a step's cache on real runs: what a hit costs (asking + loading its value)
against recomputing it, measured and kept in the store's workspace; the flag in records and
`flowyml-tui savings`; `cache="auto"` deciding both ways (issue 28).

The costs are controlled, so the outcome does not depend on the machine's speed: the value is
30 MB of zeros, made in microseconds (calloc) and slow to pickle, write, verify and load
(tens of milliseconds at least), and the step's compute time is a sleep taken from the run
context.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowyml_tui.engine.history.breakeven import merged
from flowyml_tui.engine.history.records import load_run
from flowyml_tui.engine.load.loader import load_pipelines
from tests.cli_process import run_cli

pytestmark = pytest.mark.timeout(180)

PIPELINE = """
import time
from pathlib import Path
from flowyml_tui import Pipeline, step

@step(outputs=["tokens"], cache=CACHE)
def tokenize(pause: float = 0.0, variant: int = 0):
    time.sleep(pause)  # `variant` only changes the key
    return bytes(30_000_000)

@step(inputs=["tokens"], outputs=["count"], cache=False)
def count(tokens):
    return len(tokens)

@step(outputs=["model"])
def train():
    time.sleep(0.3)
    return "small"

pipeline = Pipeline("breakeven", cache_dir=str(Path(__file__).with_name("cache")))
pipeline.add_step(tokenize).add_step(count).add_step(train)
"""


@pytest.fixture(autouse=True)
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))


def pipeline_file(folder: Path, cache: str) -> Path:
    path = folder / "breakeven_pipeline.py"
    path.write_text(PIPELINE.replace("CACHE", repr(cache)))
    return path


def step_record(folder: Path, name: str) -> dict:
    """The step's record, with this run's `cache_cost` and `cache_flag` for it (the record
    keeps them per run, for the steps that have one)."""
    record = load_run(folder / "cache")
    step = next(s for s in record["steps"] if s["name"] == name)
    return {
        **step,
        "cache_cost": record["cache_costs"].get(name),
        "cache_flag": record["cache_flags"].get(name),
    }


def test_a_step_whose_hit_costs_more_than_recomputing_it_is_flagged(tmp_path: Path) -> None:
    path = pipeline_file(tmp_path, "code_hash")
    pipeline = load_pipelines(path)["breakeven"]
    pipeline.run()
    stored = step_record(tmp_path, "tokenize")["cache_cost"]
    assert stored["bytes"] > 30_000_000 and stored["store_s"] > 0

    pipeline.run()  # a hit, and `count` runs: the value is loaded
    record = load_run(tmp_path / "cache")
    tokenize = step_record(tmp_path, "tokenize")
    assert tokenize["status"] == "cached"
    assert tokenize["cache_cost"]["load_s"] > 0
    assert record["cache_check_s"] > 0
    flag = tokenize["cache_flag"]
    assert flag.startswith("caching `tokenize` costs ") and ", recomputing " in flag
    assert "28.6 MB kept" in flag
    assert step_record(tmp_path, "train")["cache_flag"] is None  # 0.3 s of work: it pays
    assert set(pipeline.store.cache_verdicts("breakeven").flags) == {"tokenize"}

    table = run_cli("savings", "--cache-dir", tmp_path / "cache")
    assert table.returncode == 0, table.stderr
    assert "Caches that cost more than recomputing (measured):" in table.stdout
    assert f"breakeven: {flag}" in table.stdout
    as_json = run_cli("savings", "--cache-dir", tmp_path / "cache", "--format", "json")
    flags = {s["step"]: s["cache_flag"] for s in json.loads(as_json.stdout)["steps"]}
    assert flags == {"tokenize": flag, "count": None, "train": None}


def test_auto_stops_storing_a_step_that_does_not_pay_and_starts_again_when_it_grows(
    tmp_path: Path,
) -> None:
    path = pipeline_file(tmp_path, "auto")
    pipeline = load_pipelines(path)["breakeven"]

    def run(pause: float, variant: int = 0) -> dict:
        pipeline.run(context={"pause": pause, "variant": variant})
        return step_record(tmp_path, "tokenize")

    first = run(0.0)
    assert first["cache"] == "auto"
    assert first["reason"].endswith("; auto: stored (a hit's cost is not measured yet)")
    assert run(0.0)["status"] == "cached"  # and `count` loads it: a hit's cost is measured

    cheap = run(0.0, variant=1)  # another key: it runs in microseconds, a hit takes ms
    assert cheap["status"] == "executed"
    assert "; auto: not stored, a hit (" in cheap["reason"], cheap["reason"]
    assert ") costs more than recomputing (" in cheap["reason"]
    assert cheap["cache_cost"] is None  # nothing was written
    assert run(0.0, variant=1)["status"] == "executed"  # so the same run executes again

    slow = run(1.5)  # now recomputing costs more than a hit: stored again
    assert slow["status"] == "executed"
    assert "; auto: stored, recomputing (1." in slow["reason"], slow["reason"]
    assert slow["cache_cost"]["store_s"] > 0
    assert run(1.5)["status"] == "cached"


def test_auto_keys_a_step_as_code_hash_does(tmp_path: Path) -> None:
    keys = []
    for cache in ("auto", "code_hash"):
        folder = tmp_path / cache
        folder.mkdir()
        pipeline = load_pipelines(pipeline_file(folder, cache))["breakeven"]
        pipeline.run()
        keys.append(step_record(folder, "tokenize")["key"])
    assert keys[0] == keys[1]


def test_history_is_rewritten_only_when_a_figure_moved_by_more_than_a_quarter() -> None:
    old = {"compute_s": 1.0, "load_s": 0.1}
    assert merged(old, {"compute_s": 1.2, "load_s": 0.09}) is None
    assert merged(old, {"compute_s": 1.3}) == {"compute_s": 1.3, "load_s": 0.1}
    assert merged(None, {"store_s": 0.5}) == {"store_s": 0.5}
    assert merged(old, {"compute_s": 0.7}) == {"compute_s": 0.7, "load_s": 0.1}  # shrank
    assert merged({"check_s": 3e-5}, {"check_s": 6e-5}) is None  # jitter under 0.1 ms
    assert merged({"check_s": 3e-3}, {"check_s": 1e-3}, change=1.0) is not None  # a third


UNSTORABLE = """
import threading
from pathlib import Path
from flowyml_tui import Pipeline, step

@step(outputs=["lock"])
def make_lock():
    return threading.Lock()

pipeline = Pipeline("unstorable", cache_dir=str(Path(__file__).with_name("cache")))
pipeline.add_step(make_lock)
"""


def test_a_step_whose_output_cannot_be_stored_is_never_flagged(tmp_path: Path) -> None:
    """No hit can serve it, so its compute is weighed against none: a flag it had goes, and
    its history (here a load of one second) raises none."""
    from flowyml_tui.engine.cache.tables import CacheVerdicts

    path = tmp_path / "unstorable_pipeline.py"
    path.write_text(UNSTORABLE)
    pipeline = load_pipelines(path)["unstorable"]
    pipeline.run()
    old_flag = "caching `make_lock` costs 1 s a hit, recomputing 1 µs"
    pipeline.store.record_cache_costs(  # as if its value had once been stored, slow to load
        "unstorable",
        {"make_lock": {"compute_s": 1e-6, "load_s": 1.0}},
        CacheVerdicts(check_s=1.0, flags={"make_lock": old_flag}),
    )

    pipeline.run()

    step = step_record(tmp_path, "make_lock")
    assert step["status"] == "executed"
    assert step["cache_flag"] is None
    assert pipeline.store.cache_verdicts("unstorable").flags == {}
