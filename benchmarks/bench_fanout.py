"""Fan-out: many independent trivial steps on a warm Dask `LocalCluster` and on `--jobs N`,
each beside the bare library doing the same tasks in the same run; and a fully cached
1000-step chain on Dask beside inline.

  Dask       our run of W independent steps (cache off, so every step executes) against a bare
             `client.submit` of the same W calls, all submitted at once, gathered as completed
  --jobs N   our run against `ProcessPoolExecutor(N).map` of the same W calls
  cached     a fully cached 1000-step chain, `run(runner=DaskRunner)` against `run()` inline

Targets (issue 26): at most 1.5x the bare figure for the first two, 1.1x for the third. Rounds
are interleaved (ours, then the bare one), medians printed with the spread. Pools and the
cluster are warmed first; their start-up is not timed. For `--jobs` the CPU time of the run's
process and of its worker processes is printed too (Linux): on a busy machine it moves far
less than the wall clock, and on 2 cores it is what the wall clock cannot go below.

    python benchmarks/bench_fanout.py [--width 200] [--workers 2] [--rounds 7]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run.dask import DaskRunner
from flowyml_tui.engine.run.process import ProcessRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_chains import ours_source

FAN = """
from flowyml_tui import Pipeline, step

pipeline = Pipeline("fan")

def make(i):
    def f():
        return i
    f.__name__ = f.__qualname__ = f"s{i}"
    return f

for i in range(WIDTH):
    pipeline.add_step(step(outputs=[f"v{i}"], name=f"s{i}", cache=False)(make(i)))
"""


def trivial(i: int) -> int:
    return i


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process and of its live child processes (the pools' workers)."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK")
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def timed_cpu(fn: Callable[[], object], cpu: list[float]) -> float:
    before = cpu_seconds()
    took = timed(fn)
    cpu.append(cpu_seconds() - before)
    return took


def load(source: str, folder: Path, name: str):
    path = folder / f"{name}.py"
    path.write_text(source)
    pipeline = next(iter(load_pipelines(path).values()))
    pipeline.cache_dir = str(folder / f"cache-{name}")
    return pipeline


def figure(label: str, ours: list[float], theirs: list[float], peer: str, goal: float) -> None:
    mine, bare = statistics.median(ours), statistics.median(theirs)
    print(
        f"{label:10s} ours {mine * 1e3:8.2f} ms  {peer} {bare * 1e3:8.2f} ms  "
        f"ratio {mine / bare:5.2f}x (goal <= {goal}x)  "
        f"[ours {min(ours) * 1e3:.1f}-{max(ours) * 1e3:.1f}, "
        f"{peer.split()[0]} {min(theirs) * 1e3:.1f}-{max(theirs) * 1e3:.1f}]"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from distributed import Client, LocalCluster, as_completed

    folder = Path(tempfile.mkdtemp())
    width, rounds = args.width, args.rounds
    fan = load(FAN.replace("WIDTH", str(width)), folder, "fan")
    print(f"{width} independent trivial steps, {args.workers} workers, {rounds} rounds, medians")

    with ProcessRunner(args.workers) as pool, ProcessPoolExecutor(args.workers) as bare_pool:
        fan.run(runner=pool)
        list(bare_pool.map(trivial, range(width)))
        ours, theirs, our_cpu, their_cpu = [], [], [], []
        for _ in range(rounds):
            ours.append(timed_cpu(lambda: fan.run(runner=pool), our_cpu))
            theirs.append(timed_cpu(lambda: list(bare_pool.map(trivial, range(width))), their_cpu))
        figure(f"--jobs {args.workers}", ours, theirs, "ProcessPoolExecutor.map", 1.5)
        mine, bare = statistics.median(our_cpu), statistics.median(their_cpu)
        print(
            f"           CPU, all processes: ours {mine * 1e3:.0f} ms "
            f"({mine / width * 1e6:.0f} us a step), bare {bare * 1e3:.0f} ms: {mine / bare:.2f}x"
        )

    cluster = LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    try:
        dask = DaskRunner(client=client)

        def bare() -> None:
            futures = [client.submit(trivial, i, pure=False) for i in range(width)]
            for future in as_completed(futures):
                future.result()

        fan.run(runner=dask)
        bare()
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(timed(lambda: fan.run(runner=dask)))
            theirs.append(timed(bare))
        figure("Dask", ours, theirs, "client.submit+as_completed", 1.5)

        chain = load(ours_source(1000), folder, "chain")
        chain.run()
        chain.run(runner=dask)
        before = dask.submitted
        inline, on_dask = [], []
        for _ in range(rounds):
            inline.append(timed(chain.run))
            on_dask.append(timed(lambda: chain.run(runner=dask)))
        figure("cached", on_dask, inline, "inline", 1.1)
        print(f"           tasks the cached runs sent to Dask: {dask.submitted - before}")
        dask.close()
    finally:
        client.close()
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
