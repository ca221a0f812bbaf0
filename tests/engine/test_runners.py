"""The same pipelines over Inline, Process and Dask runners: same statuses, reasons, cached set;
independent steps overlap; failures skip only their downstream; cached steps never travel."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from pathlib import Path

import pytest

from flowyml_tui.engine.events import StepFinished, StepLog, StepStarted
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run import InlineRunner
from flowyml_tui.engine.run.process import ProcessRunner
from tests.needs import need

PIPELINE = """
import os, time
from flowyml_tui import Pipeline, step

@step(outputs=["n"])
def source():
    return 3

MEET = MEET_DIR  # with a folder, each branch waits there until the other has started too

def meet(me, other):
    if MEET is None:
        return
    open(os.path.join(MEET, me), "w").close()
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(MEET, other)):
        if time.time() > deadline:
            raise TimeoutError(me + " ran alone: " + other + " never started beside it")
        time.sleep(0.01)

@step(inputs=["n"], outputs=["left"])
def left(n):
    print("left says", n)
    meet("left", "right")
    time.sleep(SLEEP)
    return (n * 2, os.getpid())

@step(inputs=["n"], outputs=["right"])
def right(n):
    meet("right", "left")
    time.sleep(SLEEP)
    return (n * 3, os.getpid())

@step(inputs=["left", "right"], outputs=["total"])
def join(left, right):
    return left[0] + right[0]

@step(inputs=["n"], outputs=["bad"])
def broken(n):
    raise ValueError("no good " + str(n))

@step(inputs=["bad"], outputs=["after"])
def after_broken(bad):
    return bad

pipeline = Pipeline("par")
for s in (source, left, right, join, broken, after_broken):
    pipeline.add_step(s)
"""


def _pipeline(tmp_path: Path, sleep: float = 0.0, body: str = PIPELINE, meet: Path | None = None):
    file = tmp_path / "par_pipe.py"
    source = textwrap.dedent(body).replace("SLEEP", repr(sleep))
    file.write_text(source.replace("MEET_DIR", repr(str(meet)) if meet else "None"))
    pipeline = next(iter(load_pipelines(file).values()))
    pipeline.cache_dir = str(tmp_path / "cache")
    return pipeline


class Counting:
    """A runner that counts what reaches it."""

    def __init__(self, inner) -> None:
        self.inner, self.submitted = inner, 0
        self.capacity = getattr(inner, "capacity", 1)
        self.holds_values = getattr(inner, "holds_values", False)

    def submit(self, task, on_log=None):
        self.submitted += 1
        return self.inner.submit(task, on_log)

    def cancel(self) -> None:
        getattr(self.inner, "cancel", lambda: None)()

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def dask_client():
    distributed = need("distributed")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def process_runner():
    runner = ProcessRunner(3)
    yield runner
    runner.close()


@pytest.fixture(params=["inline", "process", "dask"])
def runner(request):
    if request.param == "inline":
        inner = InlineRunner()
        yield Counting(inner)
        inner.close()
    elif request.param == "process":
        yield Counting(request.getfixturevalue("process_runner"))
    else:
        from flowyml_tui.engine.run.dask import DaskRunner

        yield Counting(DaskRunner(client=request.getfixturevalue("dask_client")))


def _summary(result):
    return {
        name: (r.status.value, r.reason.splitlines()[0] if r.reason else "")
        for name, r in result.step_results.items()
    }


def test_every_runner_gives_the_same_statuses_reasons_and_cached_set(tmp_path, runner):
    pipeline = _pipeline(tmp_path)
    first = pipeline.run(runner=runner)
    assert _summary(first) == {
        "source": ("executed", "new step"),
        "left": ("executed", "new step"),
        "right": ("executed", "new step"),
        "join": ("executed", "new step"),
        "broken": ("failed", "failed: ValueError: no good 3"),
        "after_broken": ("skipped", "upstream broken failed"),
    }
    assert "raise ValueError" in first.step_results["broken"].error  # the user's traceback
    assert first.outputs["total"] == 15
    submitted = runner.submitted
    second = pipeline.run(runner=runner)
    cached = {n for n, r in second.step_results.items() if r.cached}
    assert cached == {"source", "left", "right", "join"}
    assert second.step_results["broken"].status.value == "failed"
    assert runner.submitted == submitted + 1  # only the step that fails again travels


def test_a_fully_cached_run_submits_nothing(tmp_path, runner):
    body = PIPELINE.replace("raise ValueError", "return n  #")
    pipeline = _pipeline(tmp_path, body=body)
    pipeline.run(runner=runner)
    before = runner.submitted
    result = pipeline.run(runner=runner)
    assert all(r.cached for r in result.step_results.values())
    assert runner.submitted == before


def test_a_fully_cached_parallel_run_never_builds_a_ready_set(tmp_path):
    """Hits are decided up front, as inline: scheduling is only for steps that execute."""
    body = PIPELINE.replace("raise ValueError", "return n  #")
    pipeline = _pipeline(tmp_path, body=body)
    runner = Counting(InlineRunner())
    runner.capacity = 3  # takes the parallel loop
    pipeline.run(runner=runner)
    executor = pipeline.executor(runner=runner)
    result = executor.run()
    assert all(r.cached for r in result.step_results.values())
    assert not executor.scheduler.started  # no counts, no heap: nothing to schedule
    runner.inner.close()


GATED = """
import os
from flowyml_tui import Pipeline, step

@step(outputs=["n"])
def source():
    return 1

@step(inputs=["n"], outputs=["m"], condition=lambda: os.path.exists(FLAG))
def gated(n):
    return n + 1

pipeline = Pipeline("gated")
pipeline.add_step(source).add_step(gated)
"""


def test_a_parallel_run_asks_a_condition_before_serving_its_step_from_the_cache(tmp_path):
    flag = tmp_path / "go"
    flag.touch()
    pipeline = _pipeline(tmp_path, body=GATED.replace("FLAG", repr(str(flag))))
    runner = Counting(InlineRunner())
    runner.capacity = 3  # takes the parallel loop, whose hits are decided up front
    assert pipeline.run(runner=runner).step_results["gated"].status.value == "executed"
    again = pipeline.run(runner=runner).step_results
    assert again["source"].cached and again["gated"].cached
    flag.unlink()  # the condition now says no: the cached entry must not be served
    gated = pipeline.run(runner=runner).step_results["gated"]
    assert (gated.status.value, gated.reason) == ("skipped", "condition false")
    runner.inner.close()


OWN_KEY = """
from flowyml_tui import Pipeline, step

@step(outputs=["key"], cache=CACHE)
def own_key():
    from distributed import get_worker

    return get_worker().get_current_task()  # the Dask key this call ran under

pipeline = Pipeline("keys")
pipeline.add_step(own_key)
"""


@pytest.mark.parametrize("cache", [True, False])
def test_each_run_submits_its_own_dask_keys_holding_its_run_id(tmp_path, dask_client, cache):
    """Two runs of one pipeline (a `cache=False` step, or a cached one run again after its
    entry is gone) are never merged by Dask into one: each task's key names its run."""
    from flowyml_tui.engine.run.dask import DaskRunner

    pipeline = _pipeline(tmp_path, body=OWN_KEY.replace("CACHE", repr(cache)))
    runner = DaskRunner(client=dask_client)  # one runner for both runs, as the TUI keeps it
    first = pipeline.run(runner=runner)
    if cache:
        pipeline.store.clear()
    second = pipeline.run(runner=runner)
    keys = [run.outputs["key"] for run in (first, second)]
    assert first.step_results["own_key"].status.value == "executed"
    assert second.step_results["own_key"].status.value == "executed"
    assert keys[0] != keys[1]
    for run, key in zip((first, second), keys, strict=True):
        assert str(key).startswith(f"own_key-{run.run_id}-")


@pytest.mark.parametrize("where", ["process", "dask"])
def test_independent_branches_overlap_and_user_code_leaves_the_driver(tmp_path, where, request):
    if where == "process":
        runner = request.getfixturevalue("process_runner")
    else:
        from flowyml_tui.engine.run.dask import DaskRunner

        runner = DaskRunner(client=request.getfixturevalue("dask_client"))
    (tmp_path / "meet").mkdir()
    pipeline = _pipeline(tmp_path, meet=tmp_path / "meet")
    result = pipeline.run(runner=runner)
    # each branch waited until the other had started: they ran at the same time
    assert result.step_results["left"].status.value == "executed", result.step_results["left"]
    assert result.step_results["right"].status.value == "executed"
    order = [
        (type(e).__name__, e.step)
        for e in result.events
        if isinstance(e, (StepStarted, StepFinished)) and e.step in ("left", "right")
    ]
    assert order[:2] == [("StepStarted", "left"), ("StepStarted", "right")], order
    pids = {result.outputs["left"][1], result.outputs["right"][1]}
    assert os.getpid() not in pids and len(pids) == 2
    logs = [e for e in result.events if isinstance(e, StepLog) and e.step == "left"]
    assert [e.text.strip() for e in logs] == ["left says 3"]
    finished = next(
        i for i, e in enumerate(result.events) if isinstance(e, StepFinished) and e.step == "left"
    )
    assert result.events.index(logs[0]) < finished  # its lines before its end


UNPICKLABLE = """
import threading
from flowyml_tui import Pipeline, step

LOCK = threading.Lock()

@step(outputs=["x"])
def locked():
    with LOCK:
        return 1

@step(outputs=["y"])
def fine():
    return 2

pipeline = Pipeline("unpicklable")
pipeline.add_step(locked).add_step(fine)
"""


def test_a_step_that_cannot_be_pickled_is_a_clear_error_naming_it(tmp_path, process_runner):
    pipeline = _pipeline(tmp_path, body=UNPICKLABLE)
    result = pipeline.run(runner=process_runner)
    locked = result.step_results["locked"]
    assert locked.status.value == "failed"
    assert "step 'locked' cannot be sent to a worker process" in locked.reason
    assert "Move it into a module" in locked.reason
    assert result.step_results["fine"].status.value == "executed"


KILLED = """
import os, signal, time
from flowyml_tui import Pipeline, step

@step(outputs=["x"])
def dies():
    os.kill(os.getpid(), signal.SIGKILL)

@step(inputs=["x"], outputs=["y"])
def after(x):
    return x

pipeline = Pipeline("killed")
pipeline.add_step(dies).add_step(after)
"""


def test_a_worker_killed_mid_step_fails_that_step_and_the_run_ends(tmp_path):
    pipeline = _pipeline(tmp_path, body=KILLED)
    with ProcessRunner(2) as runner:
        result = pipeline.run(runner=runner)
        dies = result.step_results["dies"]
        assert dies.status.value == "failed"
        assert "worker process running step 'dies' died" in dies.reason
        assert result.step_results["after"].status.value == "skipped"
        (tmp_path / "again").mkdir()
        again = _pipeline(tmp_path / "again")  # the runner starts a new pool afterwards
        assert again.run(runner=runner).step_results["join"].status.value == "executed"


def test_cancel_kills_the_running_steps_and_what_finished_stays_cached(tmp_path):
    body = PIPELINE.replace(
        "time.sleep(SLEEP)\n    return (n * 3", "time.sleep(60)\n    return (n * 3"
    )
    pipeline = _pipeline(tmp_path, sleep=0.0, body=body)
    with ProcessRunner(3) as runner:
        started = time.perf_counter()

        def cancel_when_right_runs(event) -> None:
            if isinstance(event, StepStarted) and event.step == "right":
                threading.Timer(0.5, runner.cancel).start()

        result = pipeline.run(runner=runner, on_event=cancel_when_right_runs)
        assert time.perf_counter() - started < 30  # not the 60 s of `right`
        assert result.step_results["right"].status.value == "failed"
        assert "died" in result.step_results["right"].reason
        assert result.step_results["left"].status.value == "executed"
    plans = {p.step: p.action for p in pipeline.plan()}
    assert plans["left"] == "hit" and plans["right"] == "run"


STAYS = """
import os
from flowyml_tui import Pipeline, step

DRIVER = DRIVER_PID

def _rebuild(data):
    if os.getpid() == DRIVER:
        raise RuntimeError("the big value was unpickled in the driver")
    return Big(data)

class Big:
    def __init__(self, data):
        self.data = data

    def __reduce__(self):
        return _rebuild, (self.data,)

@step(outputs=["big"])
def produce():
    return Big(b"x" * 2_000_000)

@step(inputs=["big"], outputs=["size"])
def consume(big):
    return (len(big.data), os.getpid())

pipeline = Pipeline("stays")
pipeline.add_step(produce).add_step(consume)
"""


def test_a_value_stays_on_the_dask_workers_between_its_producer_and_consumer(tmp_path, dask_client):
    """The producer's 2 MB value goes to its consumer worker to worker: unpickling it in the
    driver raises, yet both steps run, the result is right and both are cached."""
    from flowyml_tui.engine.run.dask import DaskRunner

    body = STAYS.replace("DRIVER_PID", str(os.getpid()))
    pipeline = _pipeline(tmp_path, body=body)
    runner = DaskRunner(client=dask_client)
    result = pipeline.run(runner=runner)
    assert result.step_results["produce"].status.value == "executed", result.step_results[
        "produce"
    ].reason
    assert result.step_results["consume"].status.value == "executed"
    assert result.outputs["size"][0] == 2_000_000
    assert result.outputs["size"][1] != os.getpid()
    finished = next(e for e in result.events if isinstance(e, StepFinished) and e.step == "produce")
    assert finished.output_sizes["big"] > 2_000_000  # the entry's bytes came back to be written
    again = pipeline.run(runner=runner)
    assert {r.status.value for r in again.step_results.values()} == {"cached"}


def test_a_dask_step_with_small_outputs_is_one_task_and_a_big_one_keeps_its_holder(
    tmp_path, dask_client
):
    """Small outputs come to the driver with the outcome, so their step is one Dask task (as
    a bare `client.submit`); a big output stays on its worker and its outcome is a second,
    small task beside it (and the consumer's input a third, on the worker holding it)."""
    from distributed import get_task_stream

    from flowyml_tui.engine.run.dask import DaskRunner

    pipeline = _pipeline(tmp_path, body=STAYS.replace("DRIVER_PID", str(os.getpid())))
    with get_task_stream(dask_client) as stream:
        result = pipeline.run(runner=DaskRunner(client=dask_client))
    assert result.outputs["size"][0] == 2_000_000
    keys = [str(task["key"]) for task in stream.data]
    produce = [k for k in keys if k.startswith("produce-")]
    consume = [k for k in keys if k.startswith("consume-")]
    assert len(consume) == 1 and not consume[0].endswith("-outcome"), keys
    holder = min(produce, key=len)
    assert sorted(produce) == sorted([holder, f"{holder}-outcome", f"{holder}-out0"]), keys


RETURNS_A_LOCK = """
import threading
from flowyml_tui import Pipeline, step

@step(outputs=["lock"])
def make_lock():
    return threading.Lock()

@step(inputs=["lock"], outputs=["held"])
def use_lock(lock):
    return lock.locked()

@step(outputs=["n"])
def fine():
    return 3

pipeline = Pipeline("returns_a_lock")
pipeline.add_step(make_lock).add_step(use_lock).add_step(fine)
"""


def test_a_small_dask_output_that_cannot_be_pickled_fails_its_step_by_name(tmp_path, dask_client):
    """A small output travels back inside its step's one task: one that cannot be pickled is
    a clear failure of that step (not a hang, nor a Dask traceback), its consumer is skipped,
    the rest runs and is cached, and the advice leaves Dask out."""
    from flowyml_tui.engine.run.dask import DaskRunner

    pipeline = _pipeline(tmp_path, body=RETURNS_A_LOCK)
    for _ in range(2):  # nothing of the failed step was stored: the second run says it again
        result = pipeline.run(runner=DaskRunner(client=dask_client))
        made = result.step_results["make_lock"]
        assert made.status.value == "failed"
        assert "step 'make_lock' returned a value that cannot be sent back" in made.reason
        assert "cannot pickle '_thread.lock' object" in made.reason
        assert "no `--dask`" in made.reason
        assert result.step_results["use_lock"].reason == "upstream make_lock failed"
    assert result.step_results["fine"].status.value == "cached"


@pytest.fixture(scope="module")
def fragile_dask():
    """A cluster of its own for killing workers and leaving cancelled steps running, with no
    retry of a task whose worker died (Dask's default would try it on three more)."""
    need("distributed")
    import dask

    from flowyml_tui.engine.run.dask import DaskRunner

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        runner = DaskRunner.local(2)
    yield runner
    runner.close()


def test_a_dask_worker_killed_mid_step_fails_that_step_and_the_run_ends(tmp_path, fragile_dask):
    pipeline = _pipeline(tmp_path, body=KILLED)
    result = pipeline.run(runner=fragile_dask)
    dies = result.step_results["dies"]
    assert dies.status.value == "failed"
    assert "step 'dies' did not finish on Dask: the Dask worker running it died" in dies.reason
    assert result.step_results["after"].status.value == "skipped"


def test_cancel_on_dask_cancels_its_futures_and_what_finished_stays_cached(tmp_path, fragile_dask):
    body = PIPELINE.replace(
        "time.sleep(SLEEP)\n    return (n * 3", "time.sleep(60)\n    return (n * 3"
    )
    pipeline = _pipeline(tmp_path, sleep=0.0, body=body)
    started = time.perf_counter()
    seen: set[tuple[str, str]] = set()

    def cancel_once_left_is_done_and_right_runs(event) -> None:
        if isinstance(event, (StepStarted, StepFinished)):
            seen.add((type(event).__name__, event.step))
        wanted = {("StepStarted", "right"), ("StepFinished", "left")}
        if wanted <= seen and ("cancel", "") not in seen:
            seen.add(("cancel", ""))
            threading.Timer(0.2, fragile_dask.cancel).start()

    result = pipeline.run(runner=fragile_dask, on_event=cancel_once_left_is_done_and_right_runs)
    assert time.perf_counter() - started < 30  # not the 60 s of `right`
    assert result.step_results["right"].status.value == "failed"
    assert "it was cancelled" in result.step_results["right"].reason
    assert result.step_results["join"].status.value == "skipped"
    assert result.step_results["left"].status.value == "executed"
    plans = {p.step: p.action for p in pipeline.plan()}
    assert plans["left"] == "hit" and plans["right"] == "run"


VARIES = """
import os
from flowyml_tui import Pipeline, step

@step(outputs=["noise"])
def produce():
    return os.urandom(200_000)  # held on its worker (not small), different every call

@step(inputs=["noise"], outputs=["size"])
def consume(noise):
    return len(noise)

pipeline = Pipeline("varies")
pipeline.add_step(produce).add_step(consume)
"""


def test_a_held_value_recomputed_after_its_worker_died_is_not_consumed_under_the_old_key(
    tmp_path,
):
    """Kill the worker holding `produce`'s value before `consume` is sent: Dask computes
    `produce` again, which returns other bytes. `consume` must fail, not be cached under a key
    made from the first value's fingerprint (issue 7's invariant, across a lost worker)."""
    import signal

    from flowyml_tui.engine.run.dask import DaskRunner

    need("distributed")
    runner = DaskRunner.local(2)  # its own: no step left running by another test in the way
    client = runner.client
    pipeline = _pipeline(tmp_path, body=VARIES)
    killed: list[str] = []

    def holders() -> set[str]:
        """Workers holding produce's outputs (its task's key, not its outcome's)."""
        return {
            address
            for key, addresses in client.who_has().items()
            if str(key).startswith("produce-") and not str(key).endswith("-outcome")
            for address in addresses
        }

    def kill_the_holder(event) -> None:
        if not (isinstance(event, StepFinished) and event.step == "produce") or killed:
            return
        pids = client.run(os.getpid)
        for address in holders():
            os.kill(pids[address], signal.SIGKILL)
            killed.append(address)
        deadline = time.monotonic() + 30
        while holders() and time.monotonic() < deadline:  # until the scheduler knows
            time.sleep(0.05)

    try:
        result = pipeline.run(runner=runner, on_event=kill_the_holder)
    finally:
        runner.close()
    assert killed, "no worker held produce's value"
    assert result.step_results["produce"].status.value == "executed"
    consume = result.step_results["consume"]
    assert consume.status.value == "failed", consume.reason
    assert "another value than the one it was keyed by" in consume.reason
    plans = {p.step: p.action for p in pipeline.plan()}
    assert plans == {"produce": "hit", "consume": "run"}  # nothing stored under the wrong key


def _bars(svg: str) -> dict[str, tuple[float, float]]:
    """Step name -> (x, x + width) of its bar in the timeline SVG."""
    import re

    found = re.findall(
        r"<g><title>([^:<]+):.*?<rect x=\"([\d.]+)\" y=\"[\d.]+\" width=\"([\d.]+)\"", svg
    )
    return {name: (float(x), float(x) + float(w)) for name, x, w in found}


@pytest.mark.parametrize("where", ["process", "dask"])
def test_the_run_record_and_html_timeline_show_parallel_steps_overlapping(tmp_path, where, request):
    """Branches that provably ran at once (each waits for the other to start) overlap in the
    record's start/end times and in the report's timeline bars; `join` starts after both."""
    from flowyml_tui.engine.history.records import load_run
    from flowyml_tui.report import timeline_svg

    if where == "process":
        runner = request.getfixturevalue("process_runner")
    else:
        from flowyml_tui.engine.run.dask import DaskRunner

        runner = DaskRunner(client=request.getfixturevalue("dask_client"))
    (tmp_path / "meet").mkdir()
    pipeline = _pipeline(tmp_path, sleep=0.3, meet=tmp_path / "meet")
    result = pipeline.run(runner=runner)
    assert result.step_results["left"].status.value == "executed"
    record = load_run(tmp_path / "cache")
    span = {
        s["name"]: (s["offset_seconds"], s["offset_seconds"] + s["duration_seconds"])
        for s in record["steps"]
    }
    (l0, l1), (r0, r1) = span["left"], span["right"]
    assert max(l0, r0) < min(l1, r1), span  # the two intervals overlap
    assert span["join"][0] >= max(l1, r1) - 0.05, span
    bars = _bars(timeline_svg(record))
    (lx0, lx1), (rx0, rx1) = bars["left"], bars["right"]
    assert max(lx0, rx0) < min(lx1, rx1), bars


def test_dask_keeps_more_steps_in_flight_than_threads_only_after_quick_steps(tmp_path, dask_client):
    """Every ready step (`IN_FLIGHT_PER_THREAD` a thread) once the last step was quick (no
    driver round trip between two short steps); one a thread before anything is known, so
    long steps never show as running while they wait in Dask's queue."""
    from flowyml_tui.engine.run.dask import IN_FLIGHT_PER_THREAD, DaskRunner

    threads = sum(dask_client.nthreads().values())
    runner = DaskRunner(client=dask_client)
    assert runner.capacity == max(2, threads)
    _pipeline(tmp_path).run(runner=runner)
    assert runner.capacity == threads * IN_FLIGHT_PER_THREAD
