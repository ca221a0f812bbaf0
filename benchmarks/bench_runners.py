"""Where steps run: inline vs a local process pool (`--jobs 3`) vs a local Dask cluster.

Printed: the diamond with three 1 s branches (wall vs its critical path), Dask's overhead per
executed trivial step beside a bare `client.submit` of the same function, and a fully cached
1000-step run on Dask beside inline (interleaved, best and median). Pools and clusters are
warmed first; their start-up is printed apart.

    PYTHONPATH=. python benchmarks/bench_runners.py
"""

from __future__ import annotations

import tempfile
import textwrap
import time
from pathlib import Path

from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.run.dask import DaskRunner
from flowyml_tui.engine.run.process import ProcessRunner

DIAMOND = """
import time
from flowyml_tui import Pipeline, step

@step(outputs=["n"])
def source():
    return 1

def branch(n):
    time.sleep(1.0)
    return n

for i in range(3):
    globals()[f"b{i}"] = step(inputs=["n"], outputs=[f"o{i}"], cache=False, name=f"b{i}")(branch)

@step(inputs=["o0", "o1", "o2"], outputs=["total"], cache=False)
def join(o0, o1, o2):
    return o0 + o1 + o2

pipeline = Pipeline("bench_diamond")
for s in (source, b0, b1, b2, join):
    pipeline.add_step(s)
"""

CHAIN = """
from flowyml_tui import Pipeline, step

pipeline = Pipeline("bench_chain")

def make(i):
    def f(x=0):
        return x + 1
    f.__name__ = f.__qualname__ = f"s{i}"
    return f

for i in range(N):
    inputs = [f"v{i - 1}"] if i else []
    pipeline.add_step(step(inputs=inputs, outputs=[f"v{i}"], name=f"s{i}")(make(i)))
"""


BIG = """
from flowyml_tui import Pipeline, step

@step(outputs=["big"])
def produce():
    return bytes(50_000_000)

@step(inputs=["big"], outputs=["size"])
def consume(big):
    return len(big)

pipeline = Pipeline("bench_big")
pipeline.add_step(produce).add_step(consume)
"""


def _big_value(dask: DaskRunner, folder: Path) -> None:
    """A 50 MB value between two Dask steps: through the driver (before) or worker to worker."""
    print("a 50 MB value passed between two Dask steps (best of 3):")
    for cache in (False, True):
        big = _load(BIG, folder, f"bench_big_{cache}", cache=cache)
        for label, holds in (("through the driver", False), ("stays on workers ", True)):
            dask.holds_values = holds
            times = []
            for _ in range(3):
                if cache:
                    big.store.clear()
                times.append(_timed(lambda big=big: big.run(runner=dask)))
            where = "local store writes it" if cache else "cache off            "
            print(f"  {where}  {label}  {min(times):6.3f} s")
    del dask.holds_values


def _load(body: str, folder: Path, name: str, cache: bool = True):
    file = folder / f"{name}.py"
    file.write_text(textwrap.dedent(body))
    pipeline = next(iter(load_pipelines(file).values()))
    pipeline.cache_dir = str(folder / f"cache-{name}")
    pipeline.enable_cache = cache
    return pipeline


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _trivial(x: int) -> int:
    return x


def main() -> None:
    from distributed import Client, LocalCluster

    folder = Path(tempfile.mkdtemp())
    diamond = _load(DIAMOND, folder, "bench_diamond")
    critical = 1.0  # source and join are instant: one branch is the path
    print(f"diamond, three 1 s branches: critical path {critical:.2f} s")
    inline = _timed(diamond.run)
    print(f"  inline              {inline:6.2f} s  ({inline / critical:.2f}x)")

    pool_start = time.perf_counter()
    with ProcessRunner(3) as pool:
        diamond.run(runner=pool)  # warms the pool
        print(f"  (process pool start-up and first run: {time.perf_counter() - pool_start:.2f} s)")
        wall = _timed(lambda: diamond.run(runner=pool))
        print(f"  --jobs 3            {wall:6.2f} s  ({wall / critical:.2f}x; goal <= 1.15x)")

    cluster_start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    print(f"  (LocalCluster of 3 processes start-up: {time.perf_counter() - cluster_start:.2f} s)")
    try:
        dask = DaskRunner(client=client)
        diamond.run(runner=dask)  # warm: the workers import the engine
        wall = _timed(lambda: diamond.run(runner=dask))
        print(f"  --dask local -j 3   {wall:6.2f} s  ({wall / critical:.2f}x; goal <= 1.3x)")

        _big_value(dask, folder)

        steps = 200
        trivial = _load(CHAIN.replace("N", str(steps)), folder, "bench_trivial", cache=False)
        trivial.run(runner=dask)
        ours = _timed(lambda: trivial.run(runner=dask)) / steps
        client.submit(_trivial, 0, pure=False).result()

        def bare() -> None:
            value = 0
            for _ in range(steps):
                value = client.submit(_trivial, value, pure=False).result()

        theirs = _timed(bare) / steps
        print(
            f"per executed trivial step on Dask ({steps} in a chain): {ours * 1e3:.2f} ms, "
            f"bare client.submit {theirs * 1e3:.2f} ms ({ours / theirs:.2f}x; goal <= 1.5x)"
        )

        chain = _load(CHAIN.replace("N", "1000"), folder, "bench_cached")
        chain.run()  # fills the cache
        chain.run()
        before = dask.submitted
        inline_times, dask_times = [], []
        for _ in range(15):  # interleaved, so both see the same load
            inline_times.append(_timed(chain.run))
            dask_times.append(_timed(lambda: chain.run(runner=dask)))
        inline_times.sort()
        dask_times.sort()
        best, mid = inline_times[0], inline_times[7]
        dask_best, dask_mid = dask_times[0], dask_times[7]
        print(
            f"fully cached 1000-step run (15 interleaved): inline best {best * 1e3:.1f} ms, "
            f"median {mid * 1e3:.1f} ms; Dask best {dask_best * 1e3:.1f} ms "
            f"({dask_best / best:.2f}x), median {dask_mid * 1e3:.1f} ms ({dask_mid / mid:.2f}x); "
            f"goal <= 1.10x; tasks submitted to Dask: {dask.submitted - before}"
        )
        dask.close()
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
