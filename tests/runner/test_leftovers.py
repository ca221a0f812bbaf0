"""A run leaves no process behind: not in a new session, not a double-forked daemon."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from flowyml_tui.engine.events import RunFinished, StepLog
from flowyml_tui.runner.protocol import ChildExited, RunCancelled
from flowyml_tui.runner.session import RunSession

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreaper and /proc: Linux"),
]

DETACHING_STEP = """
    import os, subprocess, sys, time

    DAEMON = "; ".join([  # fork, setsid, fork again: the classic daemon, re-parented away
        "import os, sys",
        "os.fork() and os._exit(0)",
        "os.setsid()",
        "os.fork() and os._exit(0)",
        "open(sys.argv[1] + '.tmp', 'w').write(str(os.getpid()))",
        "os.rename(sys.argv[1] + '.tmp', sys.argv[1])",
        "os.execvp('sleep', ['sleep', '60'])",
    ])

    @step(outputs=["pids"])
    def detach():
        sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
        pidfile = os.path.join(os.path.dirname(__file__), "daemon.pid")
        subprocess.run([sys.executable, "-c", DAEMON, pidfile], check=True)
        while not os.path.exists(pidfile):
            time.sleep(0.01)
        with open(pidfile) as f:
            daemon = int(f.read())
        os.remove(pidfile)
        print("spawned", sleeper.pid, daemon, flush=True)
        if os.environ.get("FLOWYML_TEST_LINGER"):
            time.sleep(60)
        return [sleeper.pid, daemon]

    pipeline = Pipeline("detach", enable_cache=False).add_step(detach)
"""


def alive(pid: int) -> bool:
    """Running (or stopped), not a zombie: the test's own os.kill(pid, 0) plus /proc's state."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def spawned(messages: list) -> list[int]:
    for message in messages:
        if isinstance(message, StepLog) and message.text.startswith("spawned"):
            return [int(word) for word in message.text.split()[1:]]
    raise AssertionError(f"the step never reported its children: {messages!r}")


def gone_soon(pids: list[int], seconds: float = 5.0) -> list[int]:
    """The pids still alive after `seconds` (killing is asynchronous; a live one stays)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.fixture
def kill_after():
    """Whatever a failing test leaves alive is killed, so one failure does not leak sleeps."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, 9)


def test_a_finished_run_leaves_no_detached_process(write_pipeline, run_file, kill_after):
    path = write_pipeline(DETACHING_STEP)

    messages = run_file(path)

    pids = spawned(messages)
    kill_after.extend(pids)
    assert isinstance(messages[-1], RunFinished) and messages[-1].status == "succeeded"
    assert gone_soon(pids) == []


def test_a_cancelled_run_leaves_no_detached_process(
    write_pipeline, cache_dir, kill_after, monkeypatch
):
    monkeypatch.setenv("FLOWYML_TEST_LINGER", "1")
    path = write_pipeline(DETACHING_STEP)
    session = RunSession(path, cache_dir=cache_dir)
    seen: list = []

    async def main() -> None:
        try:
            async for message in session.run():
                seen.append(message)
                if isinstance(message, StepLog) and message.text.startswith("spawned"):
                    kill_after.extend(spawned(seen))
                    await session.cancel("quit")
        finally:
            await session.aclose()

    asyncio.run(main())

    assert isinstance(seen[-1], RunCancelled)
    assert gone_soon(spawned(seen)) == []


def test_leaving_the_loop_early_leaves_no_detached_process(
    write_pipeline, cache_dir, kill_after, monkeypatch
):
    monkeypatch.setenv("FLOWYML_TEST_LINGER", "1")
    path = write_pipeline(DETACHING_STEP)
    session = RunSession(path, cache_dir=cache_dir)
    seen: list = []

    async def main() -> None:
        try:
            async for message in session.run():
                seen.append(message)
                if isinstance(message, StepLog) and message.text.startswith("spawned"):
                    kill_after.extend(spawned(seen))
                    break
        finally:
            await session.aclose()

    asyncio.run(main())

    assert gone_soon(spawned(seen)) == []


CLOSES_ITS_EVENTS_FD = """
    import os

    @step(outputs=["x"])
    def close_everything():
        os.closerange(3, 1024)  # a "daemonize"-style helper that closes every descriptor
        return 1

    pipeline = Pipeline("closer", enable_cache=False).add_step(close_everything)
"""


def test_a_step_closing_the_events_fd_is_reported_as_that_not_as_a_kill(write_pipeline, run_file):
    path = write_pipeline(CLOSES_ITS_EVENTS_FD)

    messages = run_file(path)

    exited = messages[-1]
    assert isinstance(exited, ChildExited)
    assert exited.signal is None
    assert "closed its event channel (fd " in exited.message
    assert "a step closed a file descriptor it did not own?" in exited.message
    assert exited.step == "close_everything"


KEEPING_STEP = """
    import subprocess

    @step(outputs=["pids"], keep_children=True)
    def server():
        kept = subprocess.Popen(["sleep", "infinity"], start_new_session=True)
        print("spawned", kept.pid, flush=True)
        return [kept.pid]

    @step(inputs=["pids"], outputs=["more"])
    def helper(pids):
        other = subprocess.Popen(["sleep", "infinity"], start_new_session=True)
        print("spawned", other.pid, flush=True)
        return pids + [other.pid]

    pipeline = Pipeline("keep", enable_cache=False).add_step(server).add_step(helper)
"""


def test_a_keep_children_step_leaves_its_server_running(write_pipeline, run_file, kill_after):
    path = write_pipeline(KEEPING_STEP)

    messages = run_file(path)

    pids = [
        int(m.text.split()[1])
        for m in messages
        if isinstance(m, StepLog) and m.text.startswith("spawned")
    ]
    kill_after.extend(pids)
    kept, other = pids
    assert isinstance(messages[-1], RunFinished) and messages[-1].status == "succeeded"
    assert gone_soon([other]) == []
    assert alive(kept)
