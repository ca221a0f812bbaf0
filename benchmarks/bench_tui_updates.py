"""How smoothly the TUI follows a 1000-step run (issue #3): updates batched to the frame rate.

Drives the real app headless (`App.run_test`) and feeds it the events of two runs of a
1000-step chain, as the run worker would post them:

1. a first run where every step executes (events arrive in small bursts over time), which
   also builds the table for 1000 new rows;
2. a fully cached re-run (every event arrives at once, the case that used to stall a frame).

For each run it prints: time until the table is first painted with every row, the worst and
median `catch_up` (the once-per-frame widget update), the worst and median event-loop stall
(lateness of a 2 ms probe timer: message handling, `catch_up` and compositing together), the
same stalls counted in the main thread's CPU time (what the loop did, without the time other
processes on a loaded machine took from it), and the time until every cell of the table shows
the final state. Prints figures only.

    python benchmarks/bench_tui_updates.py [--steps 1000] [--repeat 3] [--real]

`--real` runs the generated chain pipeline in the real worker process instead of synthetic
events (noisier: the child's own speed is part of the figure).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cached_chain import chain_source

from flowyml_tui.engine.events import (
    RunFinished,
    RunStarted,
    StepFinished,
    StepInfo,
    StepStarted,
)
from flowyml_tui.tui.app import FlowymlApp, make_app
from flowyml_tui.tui.messages import RunnerUpdate
from flowyml_tui.tui.widgets.step_table import StepTable

PROBE_SECONDS = 0.002
SIZE = (160, 48)


@dataclass
class Probe:
    """What happened on the event loop while one run was fed to the app."""

    catch_ups: list[float] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    """Per stall, the main thread's CPU time in it: the stall less the machine's load."""
    starts: list[float] = field(default_factory=list)
    """Per stall, when the probe went to sleep (`perf_counter`)."""
    paints: list[float] = field(default_factory=list)


class Instruments:
    """Wraps `catch_up` and the screen's compositor refresh; a task measures loop lateness."""

    def __init__(self, app: FlowymlApp) -> None:
        self.app = app
        self.probe = Probe()
        self._stop = False
        original = app.catch_up

        def timed_catch_up(*args: object, **kwargs: object) -> None:
            started = time.perf_counter()
            original(*args, **kwargs)
            self.probe.catch_ups.append(time.perf_counter() - started)

        app.catch_up = timed_catch_up  # type: ignore[method-assign]

    def watch_paints(self) -> None:
        screen = self.app.screen
        original = screen._compositor_refresh

        def timed_refresh() -> None:
            original()
            self.probe.paints.append(time.perf_counter())

        screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]

    async def lateness(self) -> None:
        while not self._stop:
            started, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(PROBE_SECONDS)
            self.probe.stalls.append(max(0.0, time.perf_counter() - started - PROBE_SECONDS))
            self.probe.busy.append(time.thread_time() - cpu)
            self.probe.starts.append(started)

    def reset(self) -> Probe:
        probe, self.probe = self.probe, Probe()
        return probe

    def stop(self) -> None:
        self._stop = True


def infos(steps: int, source: str) -> tuple[StepInfo, ...]:
    out = [StepInfo("s0", (), ("v0",), (), "code_hash", None, source, 1)]
    for i in range(1, steps):
        out.append(
            StepInfo(f"s{i}", (f"v{i - 1}",), (f"v{i}",), (f"s{i - 1}",), "code_hash", None, source)
        )
    return tuple(out)


def first_run(run: str, steps: tuple[StepInfo, ...]) -> list[list[object]]:
    """Bursts of events, as an executing run delivers them: a few steps per read."""
    bursts: list[list[object]] = [[RunStarted(run, "chain", 0.0, steps, "chain.py", "cache")]]
    burst: list[object] = []
    for info in steps:
        burst.append(StepStarted(run, info.name, 0.0, "new step", "new_step"))
        burst.append(
            StepFinished(
                run,
                info.name,
                "executed",
                "new step",
                "new_step",
                False,
                0.0012,
                output_previews={info.outputs[0]: "int  7"},
                output_sizes={info.outputs[0]: 5},
            )
        )
        if len(burst) >= 40:
            bursts.append(burst)
            burst = []
    burst.append(RunFinished(run, "chain", "succeeded", 0.0, 1.0, 1.0, executed=len(steps)))
    bursts.append(burst)
    return bursts


def cached_run(run: str, steps: tuple[StepInfo, ...]) -> list[list[object]]:
    """One burst: a fully cached run finishes every step before the UI sees a frame."""
    events: list[object] = [RunStarted(run, "chain", 0.0, steps, "chain.py", "cache")]
    for info in steps:
        events.append(
            StepFinished(
                run, info.name, "cached", "cached", "cached", True, 0.0003, saved_seconds=0.0012
            )
        )
    events.append(RunFinished(run, "chain", "succeeded", 0.0, 0.2, 0.2, cached=len(steps)))
    return [events]


class FinalCheck:
    """Whether every row's status cell says what the model says (the model is final once
    finished), checked a slice of rows per call: checking 10,000 cells at once was itself a
    40 ms stall of the loop being measured."""

    SLICE = 250

    def __init__(self, app: FlowymlApp) -> None:
        self.app = app
        self.checked = 0

    def __call__(self) -> bool:
        app = self.app
        model = app.model
        if model.running or model.finished is None or model.dirty:
            self.checked = 0
            return False
        table = app.query_one(StepTable)
        if table.row_count != len(model.rows):
            self.checked = 0
            return False
        names = list(model.rows)[self.checked : self.checked + self.SLICE]
        for name in names:
            cell = table.get_cell(name, "status")
            if not getattr(cell, "plain", str(cell)).endswith(str(model.rows[name].status)):
                self.checked = 0
                return False
        self.checked += len(names)
        return self.checked >= len(model.rows)


@dataclass
class Figures:
    first_paint: float
    final: float
    probe: Probe
    built_at: float
    """When the table first had every row (`perf_counter`): the build is allowed to stall."""

    def after_build(self, values: list[float]) -> list[float]:
        """`values` (one per stall) of the stalls that began once the table was built."""
        kept = [v for v, s in zip(values, self.probe.starts, strict=True) if s >= self.built_at]
        return kept or [0.0]


async def settled(tools: Instruments) -> None:
    """Start measuring once the probe has woken after the benchmark's own work: building a
    run's 10,000 events held up the loop for 40-100 ms, which was counted as the app's."""
    await asyncio.sleep(0.05)
    tools.reset()


async def feed(
    app: FlowymlApp, tools: Instruments, bursts: list[list[object]], gap: float, steps: int
) -> Figures:
    await settled(tools)
    table = app.query_one(StepTable)
    started = time.perf_counter()
    built_at: float | None = None

    async def deliver() -> None:
        for burst in bursts:  # a burst is what the run worker reads in one go: one message
            app.post_message(RunnerUpdate(tuple(burst), app.run_token))
            await asyncio.sleep(gap)

    final = FinalCheck(app)
    delivery = asyncio.create_task(deliver())
    final_at: float | None = None
    while final_at is None:
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        if built_at is None and table.row_count == steps:
            built_at = now
        if delivery.done() and final():
            final_at = time.perf_counter()
        if now - started > 60:
            raise RuntimeError("the table never reached the final state")
    await delivery
    await asyncio.sleep(0.1)  # let the last paints land
    probe = tools.reset()
    assert built_at is not None
    painted = next((t for t in probe.paints if t >= built_at), built_at)
    return Figures(painted - started, final_at - started, probe, built_at)


async def feed_real(app: FlowymlApp, tools: Instruments, number: int, steps: int) -> Figures:
    """Start a real run of the chain and wait until the table shows its end."""
    await settled(tools)
    table = app.query_one(StepTable)
    started = time.perf_counter()
    final = FinalCheck(app)
    app.start_run("benchmark")
    built_at: float | None = None
    while True:
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        if built_at is None and table.row_count == steps and app.model.run_number == number:
            built_at = now
        if app.model.run_number == number and not app.run_active and final():
            break
        if now - started > 120:
            raise RuntimeError(f"run {number} never finished: {app.model.problem}")
    final_at = time.perf_counter()
    await asyncio.sleep(0.1)
    probe = tools.reset()
    painted = next((t for t in probe.paints if built_at and t >= built_at), final_at)
    return Figures(painted - started, final_at - started, probe, built_at or final_at)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def report(label: str, results: list[Figures]) -> None:
    def med(values: Callable[[Figures], float]) -> float:
        return statistics.median(values(r) for r in results)

    print(f"{label}  (median of {len(results)})")
    print(f"  table first painted        {ms(med(lambda r: r.first_paint))}")
    print(f"  worst catch_up             {ms(med(lambda r: max(r.probe.catch_ups)))}")
    print(f"  median catch_up            {ms(med(lambda r: statistics.median(r.probe.catch_ups)))}")
    print(f"  worst event-loop stall     {ms(med(lambda r: max(r.probe.stalls)))}")
    slow = med(lambda r: sum(s > 1 / 30 for s in r.probe.stalls))
    print(f"  stalls > 33 ms             {slow:7.0f}")
    print(f"  worst stall, CPU time      {ms(med(lambda r: max(r.probe.busy)))}")
    busy = med(lambda r: sum(s > 1 / 30 for s in r.probe.busy))
    print(f"  stalls > 33 ms CPU time    {busy:7.0f}")
    print("  after the table was built:")
    print(f"    worst stall              {ms(med(lambda r: max(r.after_build(r.probe.stalls))))}")
    slow = med(lambda r: sum(s > 1 / 30 for s in r.after_build(r.probe.stalls)))
    print(f"    stalls > 33 ms           {slow:7.0f}")
    print(f"    worst stall, CPU time    {ms(med(lambda r: max(r.after_build(r.probe.busy))))}")
    busy = med(lambda r: sum(s > 1 / 30 for s in r.after_build(r.probe.busy)))
    print(f"    stalls > 33 ms CPU time  {busy:7.0f}")
    print(f"  median event-loop stall    {ms(med(lambda r: statistics.median(r.probe.stalls)))}")
    print(f"  table shows final state    {ms(med(lambda r: r.final))}")


async def bench(steps: int, repeat: int, real: bool, workdir: Path) -> None:
    path = workdir / "chain.py"
    path.write_text(chain_source(steps), encoding="utf-8")
    firsts: list[Figures] = []
    cacheds: list[Figures] = []
    for attempt in range(repeat):
        cache = workdir / f"cache{attempt}"
        app = make_app(
            [path],
            cache_dir=str(cache),
            autorun=False,
            watch=False,
            themes_from=[],
            keymap_file=workdir / "keymap.toml",
        )
        tools = Instruments(app)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            tools.watch_paints()
            lateness = asyncio.create_task(tools.lateness())
            if real:
                firsts.append(await feed_real(app, tools, 1, steps))
                cacheds.append(await feed_real(app, tools, 2, steps))
            else:
                shape = infos(steps, str(path))
                firsts.append(await feed(app, tools, first_run("r1", shape), 0.01, steps))
                cacheds.append(await feed(app, tools, cached_run("r2", shape), 0.0, steps))
            tools.stop()
            await lateness
            await app.shutdown_runs()
    kind = "real worker" if real else "synthetic events"
    print(f"{steps}-step chain, {kind}, terminal {SIZE[0]}x{SIZE[1]}")
    report("first run (new table, every step executed)", firsts)
    report("fully cached re-run (same shape)", cacheds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--real", action="store_true", help="run the chain in the real worker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowyml-bench-tui-") as tmp:
        asyncio.run(bench(args.steps, args.repeat, args.real, Path(tmp)))


if __name__ == "__main__":
    main()
