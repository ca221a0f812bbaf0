"""`flowyml-tui run` ends with its processes: Ctrl-C or SIGTERM at any moment ends it within
5 s (exit 130 / 143, no traceback, no worker left); a SIGKILLed run's pool workers exit by
themselves; what steps start, detached or double-forked, is ended with the run unless the
step says `keep_children=True`.

Real processes and real signals; a process "of the run" is found by a marker in its
environment, which every descendant inherits, whatever session or parent it ends up with.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

STUCK = """
import os, threading
from flowyml_tui import Pipeline, step

def started(name):
    open(os.path.join(os.environ["STARTED_DIR"], name), "w").close()

@step(outputs=["a"], cache=False)
def one():
    started("one")
    threading.Event().wait()

@step(outputs=["b"], cache=False)
def two():
    started("two")
    threading.Event().wait()

pipeline = Pipeline("stuck").add_step(one).add_step(two)
"""
"""Two steps that never end (an event nobody sets: no timer a fast clock could run out)."""

CHILDREN = """
import os, subprocess
from flowyml_tui import Pipeline, step

@step(outputs=["a"], cache=False)
def detached():
    subprocess.Popen(["sleep", "infinity"], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 1

@step(outputs=["b"], cache=False)
def double_fork():
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os.setsid()
            os.execvp("sleep", ["sleep", "infinity"])
        os._exit(0)
    os.waitpid(pid, 0)
    return 2

@step(inputs=["a", "b"], outputs=["c"], cache=False, keep_children=True)
def server(a, b):  # after the others: with --jobs N, what runs beside it would be kept too
    p = subprocess.Popen(["sleep", "infinity"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p.pid

pipeline = Pipeline("kids").add_step(detached).add_step(double_fork).add_step(server)
"""


class Run:
    """`flowyml-tui run` in its own session, output in files (a kept child holding a pipe
    would keep a reader waiting), its processes marked."""

    def __init__(self, tmp_path: Path, source: str, *args: str) -> None:
        self.mark = uuid.uuid4().hex
        self.started = tmp_path / "started"
        self.started.mkdir(exist_ok=True)
        pipe = tmp_path / "pipe.py"
        pipe.write_text(source)
        self.out, self.err = tmp_path / "out.txt", tmp_path / "err.txt"
        env = {**os.environ, "FLOWYML_TEST_MARK": self.mark, "STARTED_DIR": str(self.started)}
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flowyml_tui", "run", str(pipe), *args],
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def wait_started(self, *steps: str) -> None:
        deadline = time.monotonic() + 60
        while not all((self.started / s).exists() for s in steps):
            assert self.proc.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, "the steps never started"
            time.sleep(0.05)

    def left(self) -> list[int]:
        """Live processes carrying this run's marker."""
        found = []
        needle = f"FLOWYML_TEST_MARK={self.mark}".encode()
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if needle not in f.read():
                        continue
                with open(f"/proc/{name}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X"):
                        continue
            except OSError:
                continue
            found.append(int(name))
        return found

    def left_after(self, seconds: float) -> list[int]:
        deadline = time.monotonic() + seconds
        while (found := self.left()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def clean_up(self) -> None:
        for pid in self.left():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def runs():
    started: list[Run] = []
    yield started
    for run in started:
        run.clean_up()


@pytest.mark.parametrize(
    ("sig", "to_group", "code"),
    [
        (signal.SIGINT, False, 130),
        (signal.SIGINT, True, 130),  # Ctrl-C in a terminal: the whole group gets it
        (signal.SIGTERM, False, 143),
    ],
    ids=["sigint", "ctrl-c-group", "sigterm"],
)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_signal_ends_the_run_within_5_s_with_nothing_left(
    sig, to_group, code, jobs, tmp_path, runs
) -> None:
    run = Run(tmp_path, STUCK, "--cache-dir", str(tmp_path / "cache"), "--jobs", jobs)
    runs.append(run)
    run.wait_started("one") if jobs == "1" else run.wait_started("one", "two")
    if to_group:
        os.killpg(run.proc.pid, sig)
    else:
        os.kill(run.proc.pid, sig)
    assert run.proc.wait(timeout=5) == code
    stderr = run.err.read_text()
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert run.left_after(2) == []


def test_a_sigkilled_runs_pool_workers_exit_by_themselves(tmp_path, runs) -> None:
    run = Run(tmp_path, STUCK, "--cache-dir", str(tmp_path / "cache"), "--jobs", "2")
    runs.append(run)
    run.wait_started("one", "two")
    run.proc.kill()
    run.proc.wait()
    assert run.left_after(5) == []


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_what_steps_start_ends_with_the_run_unless_kept(jobs, tmp_path, runs) -> None:
    run = Run(tmp_path, CHILDREN, "--cache-dir", str(tmp_path / "cache"), "--jobs", jobs)
    runs.append(run)
    assert run.proc.wait(timeout=60) == 0, run.err.read_text()
    time.sleep(0.3)
    left = run.left()
    assert len(left) == 1, [Path(f"/proc/{p}/cmdline").read_bytes() for p in left]
    (kept,) = left
    assert Path(f"/proc/{kept}/cmdline").read_bytes() == b"sleep\x00infinity\x00"
    assert os.getsid(kept) == kept  # the server step's own session: it was left, not missed
