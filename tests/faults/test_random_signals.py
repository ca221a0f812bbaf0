"""Randomised rounds of the faults a headless run meets in the field, against the real thing:
Ctrl-C or SIGTERM at any moment of `flowyml-tui run --jobs N`, and a shared Redis that dies or
freezes mid-run. Every round: the command ends in time with its status and no traceback, no
process of the run is left, and the next run serves exactly the values a clean run computes.

The rounds are seeded: a failure names its seed, and the same seed replays it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowyml_tui.engine.load.loader import load_pipelines
from tests.cache.redis_server import RedisServer
from tests.cli.test_run_processes import Run

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc"),
]

ROUNDS = int(os.environ.get("FLOWYML_FAULT_ROUNDS", "12"))

WORK = """
import os, time
from flowyml_tui import Pipeline, step

SPEED = float(os.environ.get("SPEED", "0.05"))

def make(i):
    def f(x=0):
        time.sleep(SPEED * (1 + i % 3))
        return x * 3 + i
    f.__name__ = f.__qualname__ = f"s{i}"
    return f

pipeline = Pipeline("work")
for i in range(8):
    inputs = [f"v{i - 2}"] if i >= 2 else []  # two interleaved chains: parallel work
    pipeline.add_step(step(inputs=inputs, outputs=[f"v{i}"], name=f"s{i}")(make(i)))
"""


def expected() -> dict[str, int]:
    values: dict[str, int] = {}
    for i in range(8):
        x = values[f"v{i - 2}"] if i >= 2 else 0
        values[f"v{i}"] = x * 3 + i
    return values


def outputs(tmp_path: Path, cache: Path) -> dict[str, int]:
    """What the user's next run gets from that cache: every output's value (cached ones as
    stored, missing ones computed again)."""
    pipeline = load_pipelines(tmp_path / "pipe.py")["work"]
    pipeline.cache_dir = cache
    result = pipeline.run()
    return {name: result[name] for name in expected()}


def test_signals_at_random_moments_end_the_run_cleanly_and_lose_nothing(tmp_path) -> None:
    cache = tmp_path / "cache"
    for seed in range(ROUNDS):
        rng = random.Random(seed)
        sig, code = rng.choice([(signal.SIGINT, 130), (signal.SIGTERM, 143)])
        jobs = rng.choice(["1", "2"])
        run = Run(tmp_path, WORK, "--cache-dir", str(cache), "--jobs", jobs)
        try:
            time.sleep(rng.uniform(0.0, 1.5))  # anywhere from start-up to the last step
            to_group = rng.random() < 0.5  # Ctrl-C in a terminal reaches the whole group
            with contextlib.suppress(ProcessLookupError):  # it finished first: values only
                (os.killpg if to_group else os.kill)(run.proc.pid, sig)
            status = run.proc.wait(timeout=10)
            # -sig: the signal came before Python set its handlers, and its default action
            # ended the process; a shell shows that as the same 128 + n
            assert status in (0, code, -sig), f"seed {seed}: exit {status}"
            stderr = run.err.read_text()
            assert "Traceback" not in stderr, f"seed {seed}:\n{stderr[-3000:]}"
            assert run.left_after(5) == [], f"seed {seed}: processes left"
        finally:
            run.clean_up()
        assert outputs(tmp_path, cache) == expected(), f"seed {seed}"


def test_a_shared_redis_killed_or_frozen_mid_run_never_gives_a_wrong_value(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", "faults")
    (tmp_path / "pipe.py").write_text(WORK)
    for seed in range(max(ROUNDS // 2, 3)):
        rng = random.Random(1000 + seed)
        server = RedisServer(tmp_path / f"redis-{seed}")
        cache = tmp_path / f"machine-{seed}"  # a fresh teammate each round
        fault = rng.choice(["kill", "freeze"])
        pid = 0
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "flowyml_tui", "run", str(tmp_path / "pipe.py"),
                 "--cache-dir", str(cache), "--shared", server.url],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                env={**os.environ, "SPEED": "0.1"},
            )  # fmt: skip
            time.sleep(rng.uniform(0.3, 1.5))
            assert server.process is not None
            pid = server.process.pid
            if fault == "kill":
                server.stop()
            else:
                os.kill(pid, signal.SIGSTOP)
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"seed {seed} ({fault}):\n{err}"
            assert "Traceback" not in err, f"seed {seed} ({fault}):\n{err}"
            assert outputs(tmp_path, cache) == expected(), f"seed {seed} ({fault})"
        finally:
            if fault == "freeze":
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            server.stop()
