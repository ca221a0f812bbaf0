"""Save -> first step shown as running: the latency a user feels on every save.

Writes a small pipeline to a temp dir, watches it like the TUI does, edits a step N times and
prints the median time from the write to the first StepStarted, split into "the watcher noticed"
and "the worker started the step", with a warm spare worker (the default) and without one.
Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_save_to_running.py [-n ROUNDS]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from flowyml_tui.engine.events import StepStarted
from flowyml_tui.runner.protocol import PipelinesFound
from flowyml_tui.runner.session import RunSession
from flowyml_tui.runner.watch import watch_pipeline_files

PIPELINE = """
from flowyml_tui import Pipeline, step


@step(outputs=["raw"])
def load():
    return list(range(1000))


@step(inputs=["raw"], outputs=["scaled"])
def scale(raw):
    return [x * {version} for x in raw]


@step(inputs=["scaled"], outputs=["total"])
def total(scaled):
    return sum(scaled)


pipeline = Pipeline("bench").add_step(load).add_step(scale).add_step(total)
"""


def write(path: Path, version: int) -> None:
    path.write_text(textwrap.dedent(PIPELINE).format(version=version), encoding="utf-8")


async def measure(rounds: int, *, warm: bool) -> dict[str, list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="flowyml-bench-"))
    path = folder / "bench_pipeline.py"
    write(path, 1)
    session = RunSession(path, cache_dir=str(folder / ".flowyml" / "cache"), warm=warm)
    async for _ in session.run():  # fill the cache: later saves only re-run `scale` on
        pass
    stop = asyncio.Event()
    changes: asyncio.Queue[float] = asyncio.Queue()

    async def watch() -> None:
        async for _ in watch_pipeline_files([path], stop_event=stop):
            changes.put_nowait(time.perf_counter())

    watcher = asyncio.create_task(watch())
    while True:  # wait until the watcher sees saves at all
        write(path, 1)
        try:
            await asyncio.wait_for(changes.get(), 0.3)
            break
        except TimeoutError:
            continue
    await asyncio.sleep(0.3)
    while not changes.empty():
        changes.get_nowait()

    timings: dict[str, list[float]] = {"save->running": [], "save->noticed": [], "spawn->found": []}
    timings["noticed->running"] = []
    for version in range(2, rounds + 2):
        saved = time.perf_counter()
        write(path, version)
        noticed = await changes.get()
        spawned = time.perf_counter()
        async for message in session.run():
            now = time.perf_counter()
            if isinstance(message, PipelinesFound):
                timings["spawn->found"].append(now - spawned)
            if isinstance(message, StepStarted):
                timings["save->running"].append(now - saved)
                timings["save->noticed"].append(noticed - saved)
                timings["noticed->running"].append(now - noticed)
        await asyncio.sleep(0.15)
    stop.set()
    await watcher
    await session.aclose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    for warm in (True, False):
        timings = asyncio.run(measure(rounds, warm=warm))
        mode = "warm spare worker" if warm else "cold start (warm=False)"
        print(f"{mode}: {rounds} saves, ms: median / min / max")
        for name, values in timings.items():
            ms = [v * 1000 for v in values]
            print(f"  {name:<18} {statistics.median(ms):7.1f} {min(ms):7.1f} {max(ms):7.1f}")


if __name__ == "__main__":
    main()
