"""The spare worker opens the last run's cache while it waits, so a save's run does not pay for
opening it; a cache removed while it waited is opened afresh, so nothing is read from, or
written to, the removed one."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from flowyml_tui.engine.events import RunFinished, StepFinished
from flowyml_tui.runner.session import RunMessage, RunSession

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc"),
]

PIPELINE = """
from flowyml_tui import Pipeline, step


@step(outputs=["x"])
def value():
    return 1


pipeline = Pipeline("ahead").add_step(value)
"""


def statuses(messages: list[RunMessage]) -> dict[str, str]:
    assert isinstance(messages[-1], RunFinished), messages[-1]
    return {m.step: m.status for m in messages if isinstance(m, StepFinished)}


def processes_holding(path: Path) -> set[int]:
    """The pids of the flowyml workers that hold `path` open (from /proc)."""
    holders = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"flowyml_tui.runner.worker" not in command:
                continue
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in fds):
                holders.add(int(pid))
        except OSError:  # gone, or not ours to read
            continue
    return holders


def runs(folder: Path, between, count: int) -> tuple[list[list[RunMessage]], set[int]]:
    """Run `count` times; after the first, wait for the spare, note which workers hold the
    cache's database open, and call `between()`."""
    session = RunSession(folder / "pipe.py", cache_dir=str(folder / "cache"))
    database = (folder / "cache" / "store" / "cache.db").absolute()

    async def main():
        try:
            done = [[m async for m in session.run()]]
            await asyncio.wait_for(session.spare_ready(), 60)
            holders = processes_holding(database)
            between()
            for _ in range(count - 1):
                done.append([m async for m in session.run()])
            return done, holders
        finally:
            await session.aclose()

    return asyncio.run(main())


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pipe.py").write_text(PIPELINE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_spare_holds_the_last_runs_cache_open_while_it_waits(folder: Path):
    (first, second), holders = runs(folder, lambda: None, 2)

    assert len(holders) == 1  # the spare: the first run's worker has exited
    assert statuses(first) == {"value": "executed"}
    assert statuses(second) == {"value": "cached"}


def test_a_cache_removed_while_the_spare_waits_is_opened_afresh(folder: Path):
    def remove_cache() -> None:
        shutil.rmtree(folder / "cache")

    (first, second, third), _ = runs(folder, remove_cache, 3)

    assert statuses(first) == {"value": "executed"}
    assert statuses(second) == {"value": "executed"}  # not a hit from the removed cache
    assert statuses(third) == {"value": "cached"}  # written to the new one
