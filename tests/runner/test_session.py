"""A run streams the engine's events from a worker process, and the worker never outlives it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flowyml_tui.engine.events import (
    RunFinished,
    RunStarted,
    StepFinished,
    StepLog,
    StepStarted,
)
from flowyml_tui.runner.protocol import ChildOutput, PipelinesFound, RunCancelled
from flowyml_tui.runner.session import RunSession

pytestmark = pytest.mark.timeout(30)

TWO_STEPS = """
    @step(outputs=["raw"])
    def load():
        return [1, 2, 3]

    @step(inputs=["raw"], outputs=["total"])
    def total(raw):
        return sum(raw)

    pipeline = Pipeline("demo").add_step(load).add_step(total)
"""

SLOW_SECOND_STEP = """
    import os, subprocess, time

    @step(outputs=["raw"])
    def first():
        return 41

    @step(inputs=["raw"], outputs=["answer"])
    def slow(raw):
        child = subprocess.Popen(["sleep", "60"])
        print("grandchild", child.pid, flush=True)
        time.sleep(60)
        return raw + 1

    pipeline = Pipeline("slow").add_step(first).add_step(slow)
"""


def process_gone(pid: int) -> bool:
    """True when the pid is gone, or a zombie left for init (never for our direct children)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    return process_gone(pid)


@pytest.mark.timeout(30)
def test_a_run_streams_pipelines_found_then_run_started_to_run_finished(write_pipeline, run_file):
    path = write_pipeline(TWO_STEPS)

    messages = run_file(path)

    assert isinstance(messages[0], PipelinesFound)
    assert messages[0].names == ("demo",) and messages[0].selected == "demo"
    kinds = [type(m) for m in messages[1:]]
    assert kinds == [RunStarted, StepStarted, StepFinished, StepStarted, StepFinished, RunFinished]
    assert messages[-1].status == "succeeded"
    assert [s.name for s in messages[1].steps] == ["load", "total"]


def test_a_second_run_comes_from_the_cache(write_pipeline, run_file):
    path = write_pipeline(TWO_STEPS)
    run_file(path)

    messages = run_file(path)

    finished = [m for m in messages if isinstance(m, StepFinished)]
    assert [(f.step, f.cached) for f in finished] == [("load", True), ("total", True)]
    assert not [m for m in messages if isinstance(m, StepStarted)]


def test_no_cache_runs_every_step_again(write_pipeline, run_file):
    path = write_pipeline(TWO_STEPS)
    run_file(path)

    messages = run_file(path, enable_cache=False)

    assert [f.cached for f in messages if isinstance(f, StepFinished)] == [False, False]


def test_a_step_print_arrives_as_step_log_and_cannot_break_the_protocol(write_pipeline, run_file):
    path = write_pipeline(
        """
        import os

        @step(outputs=["x"])
        def noisy():
            print("hello from the step")
            print('{"event": "run_finished", "run_id": "fake"}')
            os.write(1, b"straight to fd 1\\n")
            return 1

        pipeline = Pipeline("noisy").add_step(noisy)
        """
    )

    messages = run_file(path)

    logs = "".join(m.text for m in messages if isinstance(m, StepLog) and m.step == "noisy")
    assert "hello from the step" in logs
    assert '{"event": "run_finished", "run_id": "fake"}' in logs
    output = "".join(m.text for m in messages if isinstance(m, ChildOutput))
    assert "straight to fd 1" in output
    assert "hello from the step" not in output
    finished = [m for m in messages if isinstance(m, RunFinished)]
    assert len(finished) == 1 and finished[0].run_id != "fake"


def test_a_print_at_import_time_arrives_as_child_output(write_pipeline, run_file):
    path = write_pipeline('print("importing the pipeline")\n' + textwrap.dedent(TWO_STEPS))

    messages = run_file(path)

    outputs = [m for m in messages if isinstance(m, ChildOutput)]
    assert any("importing the pipeline" in m.text and m.stream == "stdout" for m in outputs)
    assert len([m for m in messages if isinstance(m, RunFinished)]) == 1


def test_pipelines_found_lists_the_local_helper_modules_only(tmp_path, write_pipeline, run_file):
    (tmp_path / "helpers.py").write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    path = write_pipeline(
        """
        import json
        import helpers

        @step(outputs=["x"])
        def one():
            return helpers.double(json.loads("2"))

        pipeline = Pipeline("helped").add_step(one)
        """
    )

    found = run_file(path)[0]

    assert isinstance(found, PipelinesFound)
    assert found.local_modules == (str((tmp_path / "helpers.py").resolve()),)


def test_the_pipeline_option_picks_one_of_several(write_pipeline, run_file):
    path = write_pipeline(
        """
        @step(outputs=["x"])
        def one():
            return 1

        first = Pipeline("first").add_step(one)
        second = Pipeline("second").add_step(one)
        """
    )

    messages = run_file(path, pipeline="second")

    assert messages[0].names == ("first", "second") and messages[0].selected == "second"
    assert isinstance(messages[-1], RunFinished) and messages[-1].pipeline == "second"


def _run_until_slow_step(session: RunSession, action) -> tuple[list, int | None]:
    async def main() -> tuple[list, int | None]:
        messages: list = []
        pid = None
        try:
            async with contextlib.aclosing(session.run()) as stream:
                async for message in stream:
                    messages.append(message)
                    if isinstance(message, StepStarted) and message.step == "slow":
                        pid = session.pid
                        if await action(session):
                            break
        finally:
            await session.aclose()
        return messages, pid

    return asyncio.run(main())


async def _cancel(session: RunSession) -> bool:
    await session.cancel("file changed")
    return False


def _grandchild_pid(messages: list) -> int:
    text = "".join(m.text for m in messages if isinstance(m, StepLog))
    assert "grandchild" in text, f"the step never reported its grandchild: {messages}"
    return int(text.split("grandchild", 1)[1].split()[0])


def test_cancel_during_a_long_step_stops_the_child_and_ends_with_run_cancelled(
    write_pipeline, cache_dir
):
    path = write_pipeline(SLOW_SECOND_STEP)
    session = RunSession(path, cache_dir=cache_dir, grace_seconds=2.0)

    messages, pid = _run_until_slow_step(session, _cancel)

    assert isinstance(messages[-1], RunCancelled) and messages[-1].reason == "file changed"
    assert pid is not None and process_gone(pid)
    assert not os.path.exists(f"/proc/{pid}")  # reaped, not a zombie
    assert not session.running


def test_what_finished_before_a_cancel_stays_cached(write_pipeline, cache_dir):
    path = write_pipeline(SLOW_SECOND_STEP)
    _run_until_slow_step(RunSession(path, cache_dir=cache_dir), _cancel)

    messages, _ = _run_until_slow_step(RunSession(path, cache_dir=cache_dir), _cancel)

    first = [m for m in messages if isinstance(m, StepFinished) and m.step == "first"]
    assert first and first[0].cached


def test_cancel_kills_processes_a_step_started(write_pipeline, cache_dir):
    path = write_pipeline(SLOW_SECOND_STEP)
    session = RunSession(path, cache_dir=cache_dir)
    seen: list = []

    async def main() -> None:
        try:
            async for message in session.run():
                seen.append(message)
                if isinstance(message, StepLog) and "grandchild" in message.text:
                    await session.cancel("quit")
        finally:
            await session.aclose()

    asyncio.run(main())

    grandchild = _grandchild_pid(seen)
    assert isinstance(seen[-1], RunCancelled)
    assert wait_until_gone(grandchild)


def test_leaving_the_loop_early_stops_and_reaps_the_child(write_pipeline, cache_dir):
    path = write_pipeline(SLOW_SECOND_STEP)
    session = RunSession(path, cache_dir=cache_dir)

    async def leave(session: RunSession) -> bool:
        return True

    messages, pid = _run_until_slow_step(session, leave)

    assert isinstance(messages[-1], StepStarted)
    assert pid is not None and not os.path.exists(f"/proc/{pid}")


def test_the_child_and_what_it_started_exit_when_the_parent_is_killed(write_pipeline, cache_dir):
    path = write_pipeline(SLOW_SECOND_STEP)
    parent_code = f"""
import asyncio, sys
from pathlib import Path
from flowyml_tui.engine.events import StepLog
from flowyml_tui.runner.session import RunSession

async def main():
    session = RunSession(Path({str(path)!r}), cache_dir={cache_dir!r})
    async for message in session.run():
        if isinstance(message, StepLog) and "grandchild" in message.text:
            print(session.pid, message.text.split()[1], flush=True)
            await asyncio.sleep(60)

asyncio.run(main())
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True, env=env
    )
    child = None
    try:
        assert parent.stdout is not None
        child, grandchild = map(int, parent.stdout.readline().split())
        assert not process_gone(child)
        parent.send_signal(signal.SIGKILL)  # the step is asleep now: nothing will write to us
        parent.wait()

        assert wait_until_gone(child)
        assert wait_until_gone(grandchild)
    finally:
        parent.kill()
        parent.wait()
        if child is not None:  # on failure, still leave nothing behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)


def test_a_second_run_while_one_is_running_is_refused(write_pipeline, cache_dir):
    path = write_pipeline(SLOW_SECOND_STEP)
    session = RunSession(path, cache_dir=cache_dir)

    async def try_again(session: RunSession) -> bool:
        with pytest.raises(RuntimeError, match="already in progress"):
            await anext(session.run())
        return True

    _run_until_slow_step(session, try_again)


def test_aclose_is_safe_twice_and_refuses_new_runs(write_pipeline, cache_dir):
    session = RunSession(write_pipeline(TWO_STEPS), cache_dir=cache_dir)

    async def main() -> None:
        await session.aclose()
        await session.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await anext(session.run())

    asyncio.run(main())


def our_children() -> list[int]:
    """Processes whose parent is this test process (zombies included), except Python's own
    multiprocessing resource tracker: a process-pool test earlier in the same session starts
    it, and it lives as long as the test process by design."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    command = cmdline.read()
            except (OSError, ValueError, IndexError):
                continue
            if ppid == me and b"multiprocessing.resource_tracker" not in command:
                found.append(int(entry))
    return found


COUNTS_IMPORTS = """
    from pathlib import Path

    with open(Path(__file__).with_suffix(".imports"), "a") as log:
        log.write("imported\\n")

    @step(outputs=["x"])
    def value():
        return {value}

    pipeline = Pipeline("counted").add_step(value)
"""


def test_a_warm_worker_still_loads_the_pipeline_file_afresh(write_pipeline, cache_dir):
    path = write_pipeline(COUNTS_IMPORTS.format(value=1))
    imports = path.with_suffix(".imports")
    session = RunSession(path, cache_dir=cache_dir)

    async def main() -> tuple[list, list[int], int, list]:
        try:
            first = [m async for m in session.run()]
            await asyncio.sleep(0.5)  # the spare worker is up and waiting by now
            spare = our_children()
            count = imports.read_text().count("imported")
            write_pipeline(COUNTS_IMPORTS.format(value=2))
            second = [m async for m in session.run()]
            return first, spare, count, second
        finally:
            await session.aclose()

    first, spare, imports_before_second_run, second = asyncio.run(main())

    assert isinstance(first[-1], RunFinished) and len(spare) == 1
    assert imports_before_second_run == 1  # the spare imported no user code
    assert imports.read_text().count("imported") == 2
    finished = [m for m in second if isinstance(m, StepFinished)]
    assert finished[0].cached is False and finished[0].reason_kind == "code_changed"


def test_changing_the_settings_between_runs_takes_effect(write_pipeline, cache_dir):
    session = RunSession(write_pipeline(TWO_STEPS), cache_dir=cache_dir)

    async def main() -> list:
        try:
            [m async for m in session.run()]
            session.enable_cache = False
            return [m async for m in session.run()]
        finally:
            await session.aclose()

    messages = asyncio.run(main())

    assert [m.cached for m in messages if isinstance(m, StepFinished)] == [False, False]


def test_aclose_leaves_no_process_behind(write_pipeline, cache_dir):
    session = RunSession(write_pipeline(TWO_STEPS), cache_dir=cache_dir)

    async def main() -> list[int]:
        [m async for m in session.run()]
        await asyncio.sleep(0.2)
        alive = our_children()  # the spare worker
        await session.aclose()
        return alive

    spare = asyncio.run(main())

    assert len(spare) == 1
    assert our_children() == []


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.005, 0.02, 0.1])
def test_cancelling_the_consumer_at_any_moment_never_hangs_or_leaks(
    write_pipeline, cache_dir, delay
):
    session = RunSession(write_pipeline(SLOW_SECOND_STEP), cache_dir=cache_dir)

    async def consume() -> None:
        async for _ in session.run():
            pass

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert not session.running
        await session.aclose()

    asyncio.run(main())

    assert our_children() == []


def test_a_program_that_forgets_aclose_still_exits(write_pipeline, cache_dir):
    path = write_pipeline(TWO_STEPS)
    code = f"""
import asyncio
from pathlib import Path
from flowyml_tui.runner.session import RunSession

async def main():
    session = RunSession(Path({str(path)!r}), cache_dir={cache_dir!r})
    async for message in session.run():
        pass

asyncio.run(main())
print("exited")
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=20
    )

    assert done.stdout.strip() == "exited", done.stderr
