"""Call caches inside pipeline runs: they persist under the pipeline's cache dir from one fresh
process to the next, and each step's hits, misses and time saved reach its StepFinished and
the run record. Also in worker processes (ProcessRunner)."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

from flowyml_tui import CachePrimitive
from flowyml_tui.engine.call.scope import step_scope
from flowyml_tui.engine.events import StepFinished
from flowyml_tui.engine.history.records import load_run
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run.process import ProcessRunner
from tests.cli_process import run_cli

PIPELINE = """
import time
from pathlib import Path
from flowyml_tui import CachePrimitive, Pipeline, step

CALLS = Path(__file__).with_name("calls.log")

def ask_llm(prompt, context):
    with CALLS.open("a") as log:  # every real call leaves a line, whichever process made it
        log.write(prompt + "\\n")
    time.sleep(0.05)
    return prompt.upper()

llm = CachePrimitive(ask_llm, name="fake-llm")

@step(outputs=["answers"])
def ask():
    return [llm.call(prompt) for prompt in PROMPTS]

pipeline = Pipeline("calls", cache_dir=str(Path(__file__).with_name("cache")))
pipeline.add_step(ask)
"""


def write(folder: Path, prompts: list[str]) -> Path:
    path = folder / "calls_pipeline.py"
    path.write_text(textwrap.dedent(PIPELINE).replace("PROMPTS", repr(prompts)))
    return path


def calls_of(record: dict, step: str) -> list[dict]:
    return next(s for s in record["steps"] if s["name"] == step)["calls"]


def test_a_second_run_in_a_fresh_process_hits_the_calls_of_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, ["a", "b"])
    first = run_cli("run", path)
    assert first.returncode == 0, first.stderr
    [stats] = calls_of(load_run(tmp_path / "cache"), "ask")
    assert (stats["name"], stats["hits"], stats["misses"]) == ("fake-llm", 0, 2)

    write(tmp_path, ["a", "b", "c"])  # the step's code changed: it runs again
    second = run_cli("run", path)
    assert second.returncode == 0, second.stderr
    assert "· calls 2 hit / 1 miss · saved" in second.stdout
    assert (tmp_path / "calls.log").read_text().split() == ["a", "b", "c"]
    [stats] = calls_of(load_run(tmp_path / "cache"), "ask")
    assert (stats["hits"], stats["misses"]) == (2, 1)
    assert stats["saved_seconds"] >= 0.1  # what a and b took in the first run
    [place] = stats["places"]
    assert Path(place).is_relative_to(tmp_path / "cache" / "calls")

    third = run_cli("run", "--json", path)  # the step is a hit now: no calls at all
    assert json.loads(third.stdout)["steps"][0]["calls"] == []
    write(tmp_path, ["c"])
    fourth = json.loads(run_cli("run", "--json", path).stdout)
    assert [(c["name"], c["hits"], c["misses"]) for c in fourth["steps"][0]["calls"]] == [
        ("fake-llm", 1, 0)
    ]


def test_worker_processes_share_the_calls_and_report_them_in_step_finished(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, ["x", "y", "x"])
    pipeline = next(iter(load_pipelines(path).values()))
    events: list[StepFinished] = []
    for _ in range(2):
        with ProcessRunner(1) as runner:
            pipeline.run(
                on_event=lambda e: events.append(e) if isinstance(e, StepFinished) else None,
                runner=runner,
            )
        pipeline.store.clear()  # the step re-runs; its call cache stays
    assert (tmp_path / "calls.log").read_text().split() == ["x", "y"]
    assert [(c.name, c.hits, c.misses) for c in events[0].calls] == [("fake-llm", 1, 2)]
    [stats] = events[1].calls
    assert (stats.name, stats.hits, stats.misses) == ("fake-llm", 3, 0)


def test_outside_a_run_the_default_stays_in_memory(tmp_path: Path) -> None:
    cache = CachePrimitive(lambda d, c: d * 2, name="doubler")
    assert cache.call(2) == 4 and cache.places() == ()
    with step_scope(tmp_path / "calls") as scope:
        assert cache.call(2) == 4  # memory entries are not the run's: a miss on disk
        assert cache.call(2) == 4
        [place] = cache.places()
    assert Path(place).is_relative_to(tmp_path / "calls")
    assert [row[:3] for row in scope.summary()] == [("doubler", 1, 1)]


def test_an_explicit_memory_backend_does_not_persist_in_a_run(tmp_path: Path) -> None:
    cache = CachePrimitive(lambda d, c: d, backend="memory", name="mem")
    with step_scope(tmp_path / "calls"):
        cache.call(1)
        assert cache.places() == ()
    assert not (tmp_path / "calls").exists()


def test_a_cache_primitive_pickles_by_its_settings() -> None:
    cache = CachePrimitive(_absolute, 60, max_size=7, name="absolute")
    cache.call(-3)
    copy = pickle.loads(pickle.dumps(cache))
    assert (copy.name, copy.ttl_seconds, copy.max_size, copy.backend) == (
        "absolute", 60, 7, "auto",
    )  # fmt: skip
    assert copy.get_stats()["size"] == 0  # entries stay where they were


def _absolute(data: int, context: object) -> int:
    return abs(data)
