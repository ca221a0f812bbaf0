"""A fully cached re-run in the same process replays the previous run (`run/memo.py`), and
never when anything it depended on changed: code, a file a step read, the context, the store
(another process clearing, invalidating or pinning a step). Real files, a real store, real
processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowyml_tui.engine.events import RunFinished, StepFinished, StepStatus
from flowyml_tui.engine.history.records import RunRecorder, load_run

CHAIN = """
import os
from flowyml_tui import Pipeline, step

@step(outputs=["raw"])
def read(path: str = "data.txt"):
    with open(os.path.join(os.path.dirname(__file__), path)) as f:
        return f.read()

@step(inputs=["raw"], outputs=["n"])
def size(raw, scale: int = 1):
    return len(raw) * scale

@step(inputs=["n"], outputs=["shown"])
def show(n):
    return f"{n} chars"

pipeline = Pipeline("memo").add_step(read).add_step(size).add_step(show)
"""


@pytest.fixture
def chain(write_file, load, tmp_path):
    """The pipeline, run cold and then once fully cached: the next run may replay."""
    (tmp_path / "data.txt").write_text("hello")
    path = write_file("pipe.py", CHAIN)
    pipeline = load(path)
    assert pipeline.run()["shown"] == "5 chars"
    assert all(r.cached for r in pipeline.run().step_results.values())
    return pipeline


def _run(pipeline, context=None, sinks=()):
    executor = pipeline.executor(context, sinks=sinks)
    return executor, executor.run()


def _statuses(result):
    return {name: r.status for name, r in result.step_results.items()}


def test_a_fully_cached_rerun_replays_the_previous_run_under_its_own_run_id(chain):
    first, before = _run(chain)
    executor, result = _run(chain)
    assert executor.replayed
    assert result["shown"] == "5 chars"  # loaded from the entry it replayed
    assert _statuses(result) == dict.fromkeys(["read", "size", "show"], StepStatus.CACHED)
    for name, replayed in result.step_results.items():
        assert replayed.key == before.step_results[name].key
        assert replayed.output_fingerprints == before.step_results[name].output_fingerprints
    finished = [e for e in result.events if isinstance(e, StepFinished)]
    assert [e.step for e in finished] == ["read", "size", "show"]
    assert {e.run_id for e in result.events} == {result.run_id} != {first.run_id}
    assert finished[0].reads  # what `read` read, shown as every hit shows it


def test_a_replayed_run_writes_its_own_record(chain, tmp_path):
    recorder = RunRecorder(tmp_path / "cache")
    executor, result = _run(chain, sinks=[recorder])
    assert executor.replayed
    record = load_run(tmp_path / "cache", result.run_id)
    assert record["totals"]["cached"] == 3
    assert [s["name"] for s in record["steps"]] == ["read", "size", "show"]
    assert isinstance(result.events[-1], RunFinished)


def test_results_changed_by_a_caller_do_not_reach_the_next_replay(chain):
    _, result = _run(chain)
    result.step_results["size"].warnings.append("mine")
    result.step_results["size"].output_fingerprints["n"] = "not its fingerprint"
    executor, again = _run(chain)
    assert executor.replayed
    assert again.step_results["size"].warnings == []
    assert again.step_results["size"].output_fingerprints["n"] != "not its fingerprint"


def test_edited_code_is_not_replayed(chain, write_file, load):
    edited = load(write_file("pipe.py", CHAIN.replace('f"{n} chars"', 'f"{n} characters"')))
    chain.steps[:] = edited.steps  # the same pipeline object, its steps now the edited ones
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["show"].status is StepStatus.EXECUTED
    assert result["shown"] == "5 characters"


def test_a_changed_file_a_step_read_is_not_replayed(chain, tmp_path):
    (tmp_path / "data.txt").write_text("hello world")
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["read"].status is StepStatus.EXECUTED
    assert result["shown"] == "11 chars"


def test_a_changed_context_value_is_not_replayed(chain):
    _run(chain, {"scale": 1})  # a context of other names: another graph, its own memo
    executor, result = _run(chain, {"scale": 1})
    assert executor.replayed
    executor, result = _run(chain, {"scale": 3})
    assert not executor.replayed
    assert result["shown"] == "15 chars"
    executor, result = _run(chain, {"scale": 2})
    assert not executor.replayed
    assert result["shown"] == "10 chars"


def test_a_context_value_changed_in_place_is_not_replayed(write_file, load, tmp_path):
    path = write_file(
        "lists.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["total"])
        def add(numbers):
            return sum(numbers)

        pipeline = Pipeline("lists").add_step(add)
        """,
    )
    pipeline = load(path)
    numbers = [1, 2]
    pipeline.run({"numbers": numbers})
    pipeline.run({"numbers": numbers})
    assert _run(pipeline, {"numbers": numbers})[0].replayed
    numbers.append(3)
    executor, result = _run(pipeline, {"numbers": numbers})
    assert not executor.replayed
    assert result["total"] == 6


def _in_another_process(cache_dir, code: str) -> None:
    script = (
        "import sys\nfrom flowyml_tui.engine.cache import CacheStore\n"
        f"store = CacheStore(sys.argv[1])\n{code}\nstore.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(cache_dir)], check=True)


def test_a_step_cleared_by_another_process_is_not_replayed(chain, tmp_path):
    _in_another_process(tmp_path / "cache", "store.clear_step('size', pipeline='memo')")
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["size"].status is StepStatus.EXECUTED
    assert result["shown"] == "5 chars"


def test_the_whole_cache_cleared_by_another_process_is_not_replayed(chain, tmp_path):
    _in_another_process(tmp_path / "cache", "store.clear()")
    executor, result = _run(chain)
    assert not executor.replayed
    assert set(_statuses(result).values()) == {StepStatus.EXECUTED}


def test_a_step_invalidated_by_another_process_is_not_replayed(chain, tmp_path):
    _in_another_process(tmp_path / "cache", "store.invalidate(['show'], pipeline='memo')")
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["show"].status is StepStatus.EXECUTED


def test_a_step_pinned_by_another_process_is_not_replayed(chain, tmp_path):
    _in_another_process(tmp_path / "cache", "store.pin('show', pipeline='memo')")
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["show"].status is StepStatus.PINNED


def test_only_a_fully_cached_run_is_replayed(chain, tmp_path):
    (tmp_path / "data.txt").write_text("bye")
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["read"].status is StepStatus.EXECUTED
    executor, result = _run(chain)  # fully cached, but the last run was not
    assert not executor.replayed
    assert result["shown"] == "3 chars"
    executor, result = _run(chain)
    assert executor.replayed
    assert result["shown"] == "3 chars"


def test_a_step_with_a_condition_is_never_replayed(write_file, load):
    path = write_file(
        "cond.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["a"])
        def first():
            return 1

        @step(inputs=["a"], outputs=["b"], condition=lambda a: a > 0)
        def second(a):
            return a + 1

        pipeline = Pipeline("cond").add_step(first).add_step(second)
        """,
    )
    pipeline = load(path)
    pipeline.run()
    pipeline.run()
    executor, result = _run(pipeline)
    assert not executor.replayed
    assert result["b"] == 2


@pytest.mark.parametrize("enabled", [True, False])
def test_a_replay_leaves_the_garbage_collector_as_it_found_it(chain, enabled):
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        executor, _ = _run(chain)
        assert executor.replayed
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_a_replay_counts_and_reports_what_the_run_it_replays_did(chain):
    def hits():
        return {row["step"]: row["hits"] for row in chain.store.stats()["steps"]}

    before = hits()
    _, kept = _run(chain)  # replays the fixture's fully cached run
    executor, result = _run(chain)
    assert executor.replayed
    assert hits() == {name: count + 2 for name, count in before.items()}
    finished, original = result.events[-1], kept.events[-1]
    assert isinstance(finished, RunFinished) and isinstance(original, RunFinished)
    assert (finished.cached, finished.executed, finished.failed) == (3, 0, 0)
    assert finished.saved_seconds == original.saved_seconds
    assert finished.saved_seconds == sum(r.saved_seconds for r in result.step_results.values())


@pytest.mark.parametrize(
    "change", ["store.pin('show', pipeline='memo')", "store.invalidate(['show'], pipeline='memo')"]
)
def test_a_change_by_another_process_after_several_replays_is_seen(chain, tmp_path, change):
    """Replays read no workspace table again while nothing was written to the database: a
    write by another process must still be seen."""
    for _ in range(3):
        assert _run(chain)[0].replayed
    _in_another_process(tmp_path / "cache", change)
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["show"].status is not StepStatus.CACHED


def test_a_pin_by_this_handle_after_several_replays_is_seen(chain):
    for _ in range(3):
        assert _run(chain)[0].replayed
    chain.pin("show")
    executor, result = _run(chain)
    assert not executor.replayed
    assert result.step_results["show"].status is StepStatus.PINNED


def test_the_entry_a_run_used_is_current_after_replays(chain, write_file, load):
    """A run's counters commit keeps the views of the tables it did not write: the table of
    current entries, which a run that used a new entry writes, is read again."""
    for _ in range(3):
        assert _run(chain)[0].replayed
    edited = load(write_file("pipe.py", CHAIN.replace('f"{n} chars"', 'f"{n} characters"')))
    chain.steps[:] = edited.steps
    _, result = _run(chain)
    assert result.step_results["show"].status is StepStatus.EXECUTED
    assert chain.store.current("memo")["show"] == result.step_results["show"].key
    chain.steps[:] = load(write_file("pipe.py", CHAIN)).steps  # back: the first entry again
    _, result = _run(chain)
    assert result.step_results["show"].status is StepStatus.CACHED
    assert chain.store.current("memo")["show"] == result.step_results["show"].key


def test_a_relative_cache_dir_follows_the_working_dir(write_file, load, tmp_path, monkeypatch):
    """The cache dir a pipeline works out is kept between runs: a relative one still names a
    dir under whatever the working dir is at each run."""
    pipeline = load(write_file("rel.py", CHAIN))
    (tmp_path / "data.txt").write_text("hi")
    pipeline.cache_dir = ".flowyml/cache"
    for place in ("one", "two"):
        (tmp_path / place).mkdir()
        monkeypatch.chdir(tmp_path / place)
        result = pipeline.run()
        assert (tmp_path / place / ".flowyml/cache/runs" / f"{result.run_id}.json").is_file()
        assert result.step_results["read"].status is StepStatus.EXECUTED
