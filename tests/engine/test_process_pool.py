"""The `--jobs` pool: tasks wait for a worker without the wait counting as their time, step
functions are sent to each worker once while exact, and outcomes come back by the cheapest
pickle that can carry them."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run.process import ProcessRunner

QUEUED = """
import time
from flowyml_tui import Pipeline, step

@step(outputs=["slow"], cache=False)
def slow():
    time.sleep(2)
    return 1

@step(outputs=["quick"], cache=False)
def quick():
    return 2

pipeline = Pipeline("queued").add_step(slow).add_step(quick)
"""

OWN_CLASS = """
import os
from flowyml_tui import Pipeline, step

with open(os.path.join(os.path.dirname(__file__), "imported_by"), "a") as seen:
    seen.write(str(os.getpid()) + "\\n")

class Point:
    def __init__(self, x):
        self.x = x

@step(outputs=["point"])
def make_point():
    return Point(3)

@step(outputs=["plain"])
def make_plain():
    return {"a": [1, 2.5, "three", None, (True, b"x")]}

pipeline = Pipeline("own").add_step(make_point).add_step(make_plain)
"""


def _load(tmp_path: Path, body: str):
    file = tmp_path / "pool_pipe.py"
    file.write_text(textwrap.dedent(body))
    pipeline = next(iter(load_pipelines(file).values()))
    pipeline.cache_dir = str(tmp_path / "cache")
    return pipeline


def test_a_step_queued_behind_another_on_its_worker_does_not_count_the_wait(tmp_path):
    """One worker, made quick by a trivial task, so the run submits two steps at once:
    `quick` waits in the worker's pipe while `slow` sleeps 2 s. Its duration is its own, not
    the 2 s it waited (records and the cache's break-even read it)."""
    from flowyml_tui.engine.run import StepTask
    from tests.engine.test_runner import greet

    pipeline = _load(tmp_path, QUEUED)
    with ProcessRunner(1) as runner:
        runner.submit(StepTask("greet", greet.func, {"name": "warm"})).result(timeout=120)
        assert runner.capacity == 2
        result = pipeline.run(runner=runner)
    assert result["quick"] == 2
    assert result.step_results["slow"].duration_seconds >= 2
    assert result.step_results["quick"].duration_seconds < 1


def test_the_pool_queues_behind_quick_steps_only(tmp_path):
    """A submitted step shows as running: a second one per worker is submitted only while
    the workers' last steps were quick, never behind long ones."""
    from flowyml_tui.engine.run import StepTask
    from tests.engine.test_runner import greet

    pipeline = _load(tmp_path, QUEUED)
    with ProcessRunner(1) as runner:
        assert runner.capacity == 1  # nothing known yet
        runner.submit(StepTask("greet", greet.func, {"name": "warm"})).result(timeout=120)
        assert runner.capacity == 2
        slow = next(s for s in pipeline.steps if s.name == "slow")
        runner.submit(StepTask("slow", slow.func, {})).result(timeout=120)
        assert runner.capacity == 1


def test_a_value_of_a_pipeline_file_class_comes_back_without_the_file_running_again(tmp_path):
    """A plain value goes back by plain pickle; an instance of a class from the pipeline file
    by cloudpickle, by value: plain pickle would import the pipeline file by name in the
    worker to check the class, running it a second time."""
    pipeline = _load(tmp_path, OWN_CLASS)
    with ProcessRunner(2) as runner:
        result = pipeline.run(runner=runner)
    assert result["point"].x == 3
    assert result["plain"] == {"a": [1, 2.5, "three", None, (True, b"x")]}
    assert (tmp_path / "imported_by").read_text().split() == [str(os.getpid())]


SHIPPED = """
import builtins, os, sys
from flowyml_tui import Pipeline, step

FACTOR = 2
OFFSETS = [0]

@step(outputs=["where"], cache=False)
def where():
    code = sys._getframe().f_code
    builtins.__dict__.setdefault("_flowyml_test_codes", []).append(code)  # ids stay unique
    return (os.getpid(), id(code), FACTOR * 10 + OFFSETS[0])

pipeline = Pipeline("shipped").add_step(where)
"""


def test_a_worker_unpickles_a_step_function_once_across_runs(tmp_path):
    """Two runs of one pipeline on one worker: the second task carries only the function's
    digest, and the worker calls the very function object it unpickled for the first."""
    pipeline = _load(tmp_path, SHIPPED)
    with ProcessRunner(1) as runner:
        first = pipeline.run(runner=runner)["where"]
        second = pipeline.run(runner=runner)["where"]
    assert first[0] == second[0]  # the same worker process
    assert first[1] == second[1]
    assert first[2] == second[2] == 20


def test_a_changed_global_or_an_edited_step_is_shipped_again(tmp_path):
    """What the function's bytes were made of changes, so they are made and sent again: a
    global rebound, a list it reads changed in place, the file edited and loaded again."""
    pipeline = _load(tmp_path, SHIPPED)
    with ProcessRunner(1) as runner:
        assert pipeline.run(runner=runner)["where"][2] == 20
        names = pipeline.steps[0].func.__globals__
        names["FACTOR"] = 3
        assert pipeline.run(runner=runner)["where"][2] == 30
        names["OFFSETS"][0] = 1
        assert pipeline.run(runner=runner)["where"][2] == 31
        edited = _load(tmp_path, SHIPPED.replace("FACTOR * 10", "FACTOR * 100"))
        assert edited.run(runner=runner)["where"][2] == 200


def test_a_worker_that_replaced_a_dead_one_is_sent_the_function_again(tmp_path):
    """The dead worker held the function; the new one holds nothing, and gets its bytes."""
    from flowyml_tui.engine.run import StepTask
    from tests.engine.test_runner import dies_at_once

    pipeline = _load(tmp_path, SHIPPED)
    with ProcessRunner(1) as runner:
        before = pipeline.run(runner=runner)["where"]
        died = runner.submit(StepTask("dies_at_once", dies_at_once.func, {}))
        assert died.exception(timeout=120) is not None
        after = pipeline.run(runner=runner)
    assert after.step_results["where"].status.value == "executed"
    assert after["where"][0] != before[0] and after["where"][2] == 20


LOGS = """
import logging
from flowyml_tui import Pipeline, step

@step(outputs=["a"], cache=False)
def first():
    logging.getLogger("mine").info("from first")
    return 1

@step(inputs=["a"], outputs=["b"], cache=False)
def second(a):
    logging.getLogger("mine").info("from second")
    return a + 1

pipeline = Pipeline("logs").add_step(first).add_step(second)
"""


def test_log_records_of_each_step_on_a_worker_are_that_steps_own(tmp_path):
    """A worker keeps its logging handler for its whole life: INFO records still reach the
    step that wrote them, step after step and run after run, and no other."""
    pipeline = _load(tmp_path, LOGS)
    with ProcessRunner(1) as runner:
        for _ in range(2):
            result = pipeline.run(runner=runner)
            first, second = (result.step_results[s].logs for s in ("first", "second"))
            assert [text for _, text in first] == ["INFO mine: from first\n"]
            assert [text for _, text in second] == ["INFO mine: from second\n"]


EXIT_INTERRUPTED = """
import sys
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run.process import ProcessRunner

pipeline = next(iter(load_pipelines(sys.argv[1]).values()))
pipeline.cache_dir = sys.argv[2]
runner = ProcessRunner(2)
pipeline.run(runner=runner)  # the workers now wait for more


def interrupted_close():
    raise KeyboardInterrupt  # a second Ctrl-C, arriving while the runner is closed at exit


runner.close = interrupted_close  # nobody closes it: the exit hook does
"""


def test_a_second_ctrl_c_while_the_runners_close_at_exit_kills_the_workers_quietly(tmp_path):
    """Workers are not daemons: left alive, the interpreter would wait for them at exit."""
    import subprocess
    import sys

    path = tmp_path / "quick.py"
    path.write_text(
        "from flowyml_tui import Pipeline, step\n"
        "pipeline = Pipeline('quick')\n"
        "@step(outputs=['x'])\n"
        "def one():\n"
        "    return 1\n"
        "pipeline.add_step(one)\n"
    )
    script = tmp_path / "exit_interrupted.py"
    script.write_text(EXIT_INTERRUPTED)
    done = subprocess.run(
        [sys.executable, str(script), str(path), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
