"""The StepRunner seam: executing steps are submitted as picklable tasks, hits never are."""

from __future__ import annotations

import pickle
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from flowyml_tui import step
from flowyml_tui.engine.events import StepLog, StepStatus
from flowyml_tui.engine.run import InlineRunner, StepOutcome, StepTask, run_task

PIPELINE = """
from flowyml_tui import Pipeline, step

@step(outputs=["numbers"])
def source(n: int = 4):
    print("making", n)
    return list(range(n))

@step(inputs=["numbers"], outputs=["total"])
def total(numbers):
    return sum(numbers)

@step(inputs=["total"], outputs=["stamp"], cache=False)
def stamp(total):
    return f"total={total}"

pipeline = Pipeline("seam").add_step(source).add_step(total).add_step(stamp)
"""


class PoolRunner:
    """Runs each task on a thread pool and remembers what it was given (a `StepRunner`)."""

    capacity = 1
    holds_values = False

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.submitted: list[str] = []
        self.threads: set[int] = set()

    def submit(self, task: StepTask, on_log=None) -> Future[StepOutcome]:
        self.submitted.append(task.step)

        def call() -> StepOutcome:
            self.threads.add(threading.get_ident())
            return run_task(task, on_log)

        return self.pool.submit(call)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        self.pool.shutdown()


@pytest.fixture
def pool_runner():
    runner = PoolRunner()
    yield runner
    runner.close()


def _outcomes(result):
    return {n: (r.status, r.reason) for n, r in result.step_results.items()}


def test_a_custom_runner_runs_what_executes_and_never_sees_a_hit(write_file, load, pool_runner):
    inline = load(write_file("inline/p.py", PIPELINE))
    inline.cache_dir = inline.cache_dir.parent / "inline-cache"
    pooled = load(write_file("pooled/p.py", PIPELINE))

    expected_first = inline.run()
    first = pooled.run(runner=pool_runner)
    assert pool_runner.submitted == ["source", "total", "stamp"]
    assert threading.get_ident() not in pool_runner.threads  # they ran on the pool
    assert _outcomes(first) == _outcomes(expected_first)
    assert first["stamp"] == expected_first["stamp"] == "total=6"
    assert first.step_results["source"].logs == [("stdout", "making 4\n")]

    pool_runner.submitted.clear()
    expected_second = inline.run()
    second = pooled.run(runner=pool_runner)
    assert pool_runner.submitted == ["stamp"]  # the only step that is not a hit
    assert second.step_results["source"].status is StepStatus.CACHED
    assert second.step_results["total"].status is StepStatus.CACHED
    assert _outcomes(second) == _outcomes(expected_second)
    assert second["stamp"] == "total=6"


def test_logs_of_a_submitted_step_arrive_as_events_before_it_finishes(
    write_file, load, pool_runner
):
    pipeline = load(write_file("p.py", PIPELINE))
    events = []
    pipeline.run(runner=pool_runner, on_event=events.append)
    kinds = [(type(e).__name__, getattr(e, "step", None)) for e in events]
    log = kinds.index(("StepLog", "source"))
    assert kinds[log - 1] == ("StepStarted", "source")
    assert kinds[log + 1] == ("StepFinished", "source")
    assert [e.text for e in events if isinstance(e, StepLog)] == ["making 4\n"]


def test_a_step_that_raises_on_the_runner_fails_with_its_own_traceback(write_file, load):
    path = write_file(
        "boom.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["x"])
        def boom():
            raise ValueError("no good")

        @step(inputs=["x"], outputs=["y"])
        def after(x):
            return x

        pipeline = Pipeline("boom").add_step(boom).add_step(after)
        """,
    )
    runner = InlineRunner()
    result = load(path).run(runner=runner)
    runner.close()
    failed = result.step_results["boom"]
    assert failed.status is StepStatus.FAILED
    assert failed.reason == "failed: ValueError: no good"
    assert 'raise ValueError("no good")' in failed.error
    assert "runner.py" not in failed.error and "invoke.py" not in failed.error
    assert result.step_results["after"].reason == "upstream boom failed"


@step(outputs=["greeting"])
def greet(name: str) -> str:
    print("hello from", name)
    return f"hello {name}"


def test_a_step_task_survives_pickling_even_when_its_step_shadows_the_function():
    task = StepTask("greet", greet.func, {"name": "ada"})
    copy = pickle.loads(pickle.dumps(task))
    assert copy.step == "greet" and copy.kwargs == {"name": "ada"} and copy.capture
    outcome = run_task(copy)
    assert outcome.ok and outcome.value == "hello ada"
    assert outcome.logs == (("stdout", "hello from ada\n"),)
    assert pickle.loads(pickle.dumps(outcome)).value == "hello ada"


def test_a_task_without_capture_leaves_output_where_the_process_sends_it(capsys):
    outcome = run_task(StepTask("greet", greet.func, {"name": "bo"}, capture=False))
    assert outcome.value == "hello bo"
    assert outcome.logs == ()
    assert capsys.readouterr().out == "hello from bo\n"


def test_the_inline_runner_returns_a_finished_future_and_failures_as_outcomes():
    runner = InlineRunner()
    done = runner.submit(StepTask("greet", greet.func, {"name": "cy"}))
    assert done.done() and done.result().value == "hello cy"
    failed = runner.submit(StepTask("greet", greet.func, {})).result()
    assert not failed.ok and isinstance(failed.error, TypeError)
    assert "TypeError" in failed.traceback
    runner.close()
    runner.close()  # idempotent
    assert runner.submit(StepTask("greet", greet.func, {"name": "di"})).result().ok


def test_lines_given_to_on_log_are_not_held_again_in_the_outcome():
    seen = []
    outcome = run_task(
        StepTask("greet", greet.func, {"name": "ed"}), lambda *line: seen.append(line)
    )
    assert seen == [("stdout", "hello from ed\n")]
    assert outcome.logs == ()


@step(outputs=["quiet"])
def quiet():
    return 1


@step(outputs=["said"])
def chatty(lines: int):
    for i in range(lines):
        print("line", i)
    return lines


def test_every_line_of_a_pool_step_arrives_before_its_outcome():
    """`--jobs`: a step's lines and its outcome come back on one pipe, in order, so when its
    future resolves the driver has had every line (the Why pane and the log file are whole)."""
    from flowyml_tui.engine.run.process import ProcessRunner

    with ProcessRunner(1) as runner:
        lines: list[str] = []
        at_outcome: list[int] = []
        future = runner.submit(
            StepTask("chatty", chatty.func, {"lines": 300}), lambda s, t: lines.append(t)
        )
        future.add_done_callback(lambda f: at_outcome.append(len(lines)))
        assert future.result(timeout=120).value == 300
        assert at_outcome == [300]
        assert lines[0] == "line 0\n" and lines[-1] == "line 299\n"


def test_steps_held_for_a_full_runner_are_not_decided_again_at_each_completion(monkeypatch):
    """A wide fan-out on a runner with few slots: each held step is asked once when it is
    found to execute and once when a slot is free for it, not after every completion (that
    was quadratic in the width)."""
    from flowyml_tui import Pipeline
    from flowyml_tui.engine.run.executor import Executor

    pipeline = Pipeline("wide", enable_cache=False)
    for i in range(40):
        pipeline.add_step(step(outputs=[f"v{i}"], name=f"s{i}", cache=False)(lambda i=i: i))
    asked = []
    begin = Executor._begin_step

    def counted(self, step, **kwargs):
        asked.append(step.name)
        return begin(self, step, **kwargs)

    monkeypatch.setattr(Executor, "_begin_step", counted)
    runner = PoolRunner()
    runner.capacity = 2
    result = pipeline.run(runner=runner)

    assert result.outputs["v39"] == 39
    assert len(asked) <= 2 * 40


@step(outputs=["never"])
def dies_at_once():
    import os

    os._exit(9)


def test_a_pool_worker_that_dies_fails_its_step_and_a_new_worker_runs_what_waited():
    """One worker: the second task waits behind a step that kills its process. That step
    fails as died; the waiting one runs on the worker started in its place."""
    from flowyml_tui.engine.run.process import ProcessRunner

    with ProcessRunner(1) as runner:
        dying = runner.submit(StepTask("dies_at_once", dies_at_once.func, {}))
        waiting = runner.submit(StepTask("greet", greet.func, {"name": "next"}))
        with pytest.raises(Exception, match="running step 'dies_at_once' died"):
            dying.result(timeout=120)
        assert waiting.result(timeout=120).value == "hello next"
