"""Does a run stay linear in its size? A chain and a wide fan-out of 1,000 and 10,000 trivial
steps: planned, run cold (empty cache) and run fully cached, in-process, inline.

Target (issue 26): each 10,000-step figure at most 11x its 1,000-step figure. The two sizes are
interleaved round by round so both see the same machine load; medians printed. Everything is
counted in one process per shape, so the interpreter's own warm-up is paid once. The cold
run's CPU time is also split into user and system time (the system part is mostly the kernel
taking the store's page writes, SQLite's WAL). Beside it, `store` times the store alone
doing what that cold run asked of it: the same entries, values and sources, written into a
fresh store with the same questions before each write (the entry, the step's newest
version) and the run's one commit of counters after them, in rounds of its own after the
run's (timed between them, its writes disturbed the run's own figures). A store ratio as high
as the run's says the rest of the engine adds nothing that grows faster than the run (README,
Performance).

    python benchmarks/bench_scale.py [--sizes 1000 10000] [--rounds 9]
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flowyml_tui.engine.cache import open_store
from flowyml_tui.engine.cache.entry import Entry
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.engine.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_chains import ours_source


def fan_source(steps: int) -> str:
    """`steps` independent steps, each its own function, and one that gathers ten of them
    (so the graph is not only roots)."""
    lines = ["from flowyml_tui import Pipeline, step", 'pipeline = Pipeline("fan")']
    for i in range(steps - 1):
        lines += [f"@step(outputs=['v{i}'])", f"def s{i}():", f"    return {i}"]
        lines += [f"pipeline.add_step(s{i})"]
    picked = [f"v{i}" for i in range(0, steps - 1, max(1, (steps - 1) // 10))][:10]
    lines += [
        f"@step(inputs={picked!r}, outputs=['total'])",
        f"def gather({', '.join(picked)}):",
        f"    return {' + '.join(picked)}",
        "pipeline.add_step(gather)",
    ]
    return "\n".join(lines) + "\n"


SHAPES = {"chain": ours_source, "fan-out": fan_source}


def timed(fn) -> tuple[float, float, float, float]:
    """(wall, CPU, user, system) seconds: on a shared machine the CPU time is the steadier of
    wall and CPU."""
    before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_SELF)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return wall, user + system, user, system


Write = tuple[Entry, list[bytes], dict[str, str]]


def writes_of(pipeline: Pipeline) -> list[Write]:
    """What a cold run of `pipeline` wrote, step by step, read back from its store."""
    store = open_store(pipeline.cache_dir)
    writes = []
    for each in pipeline.steps:
        entry = store.newest_entry(pipeline.name, each.name)
        assert entry is not None, f"step {each.name} left no entry"
        blobs = [store.load_blob(entry, index) for index in range(len(entry.sizes))]
        texts = {h: text for h in entry.functions.values() if (text := store.source(h)) is not None}
        writes.append((entry, blobs, texts))
    store.close()
    return writes


def store_alone(writes: list[Write], cache_dir: Path) -> tuple[float, float, float, float]:
    """The store's share of a cold run, timed alone: a fresh store asked what a cold step asks
    (its entry, its newest version) and given its entry, then the run's one commit."""
    store = open_store(cache_dir)
    name = writes[0][0].pipeline

    def work() -> None:
        store.begin_run(name)
        for entry, blobs, sources in writes:
            store.get_entry(entry.key)
            store.newest_entry(entry.pipeline, entry.step)
            store.put_entry(entry, blobs, sources)
        steps = [entry.step for entry, _, _ in writes]
        store.record_run(name, {entry.step: entry.key for entry, _, _ in writes}, (), steps)

    spent = timed(work)
    store.close()
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    small, big = args.sizes
    folder = Path(tempfile.mkdtemp())
    print(f"sizes {small} and {big}, {args.rounds} rounds interleaved, medians (ms)")
    print(
        f"{'shape':8s} {'figure':7s} {'wall ' + str(small):>11s} {'wall ' + str(big):>11s} "
        f"ratio   {'CPU ' + str(small):>10s} {'CPU ' + str(big):>10s} ratio (goal <= 11x)"
    )
    for shape, source in SHAPES.items():
        pipelines = {}
        for size in (small, big):
            path = folder / f"{shape}_{size}.py"
            path.write_text(source(size))
            pipelines[size] = next(iter(load_pipelines(path).values()))
        times: dict[tuple[int, str], list[tuple[float, float, float, float]]] = {}
        writes: dict[int, list[Write]] = {}
        for round_ in range(args.rounds):
            for size, pipeline in pipelines.items():
                pipeline.cache_dir = str(folder / f"cache_{shape}_{size}_{round_}")
                gc.collect()
                times.setdefault((size, "plan"), []).append(timed(pipeline.plan))
                times.setdefault((size, "cold"), []).append(timed(pipeline.run))
                result = pipeline.run()
                assert all(r.cached for r in result.step_results.values())
                times.setdefault((size, "cached"), []).append(timed(pipeline.run))
                if size not in writes:  # read back once, from the first round's store
                    writes[size] = writes_of(pipeline)
        for round_ in range(args.rounds):  # after the run's rounds: its figures as before
            for size in pipelines:
                gc.collect()
                alone = store_alone(writes[size], folder / f"store_{shape}_{size}_{round_}")
                times.setdefault((size, "store"), []).append(alone)
        for figure in ("plan", "cold", "cached", "store"):
            cells = []
            for kind in (0, 1):  # wall, CPU
                a = statistics.median(t[kind] for t in times[(small, figure)])
                b = statistics.median(t[kind] for t in times[(big, figure)])
                cells.append(f"{a * 1e3:11.1f} {b * 1e3:11.1f} {b / a:5.1f}x")
            print(f"{shape:8s} {figure:7s} " + "  ".join(cells))
        parts = []
        for kind, name in ((2, "user"), (3, "system")):
            a = statistics.median(t[kind] for t in times[(small, "cold")])
            b = statistics.median(t[kind] for t in times[(big, "cold")])
            ratio = f"{b / a:.1f}x" if a else "-"  # tiny sizes: below the clock's tick
            parts.append(f"{name} {a * 1e3:.0f} -> {b * 1e3:.0f} ms ({ratio})")
        print(f"{'':8s} cold CPU: " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
