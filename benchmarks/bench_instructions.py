"""Instructions per fully cached step, ours beside joblib.Memory's cached call, under callgrind;
with `--fanout W`, also the driver's instructions per executed step of a cold W-step fan-out.

Wall-clock figures on a shared 2-core machine drift by 2x within minutes; the number of
instructions a piece of work executes does not. Each subject runs twice under valgrind's
callgrind, once set up only and once set up plus its measured work, and the difference is the
work's cost. Needs `valgrind` on PATH (Debian: `apt-get install valgrind`); without it this
prints why and exits. Prints figures only; takes about two minutes.

`--fanout W` counts `bench_fanout.py`'s W independent trivial steps (cache off, so each one
executes) in the run's process: inline (the call itself in it too), and on `--jobs 2` (its
threads, the main one and the pool's reader, counted apart; the workers run outside valgrind).
The `--jobs` figure moves by some thousands between counts: how many waits and reads a run
takes depends on how far ahead the (uncounted, full-speed) workers are.

`--scale chain fan-out` counts a cold run of `bench_scale.py`'s shapes at 1,000 and 10,000
steps, after the same plan, and prints the ratio: the part of that benchmark's cold figure
that does not drift with the machine (the kernel's time for the store's writes is not in it).

    python benchmarks/bench_instructions.py [--steps 1000] [--runs 3] [--calls 1000]
        [--fanout 200] [--scale chain fan-out]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

OURS = """
import os, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from pathlib import Path
from bench_cached_chain import chain_source
from flowyml_tui.engine.load.loader import load_pipelines
work = Path(sys.argv[3])
work.mkdir(parents=True)
path = work / "chain.py"
path.write_text(chain_source(int(sys.argv[4])))
old = time.time() - 60  # a file saved a minute ago: its code identity is trusted
os.utime(path, (old, old))
pipeline = load_pipelines(path)["chain"]
pipeline.cache_dir = work / "cache"
pipeline.run()
pipeline.run()
for _ in range(int(sys.argv[5])):
    result = pipeline.run()
    assert all(r.cached for r in result.step_results.values())
"""

FANOUT = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from pathlib import Path
from bench_fanout import FAN, load
from flowyml_tui.engine.run.process import ProcessRunner

def main():
    work = Path(sys.argv[3])
    work.mkdir(parents=True)
    width, runs, where = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    fan = load(FAN.replace("WIDTH", str(width)), work, "fan")
    if where == "inline":
        for _ in range(runs + 2):
            fan.run()
        return
    with ProcessRunner(2) as pool:
        for _ in range(runs + 2):
            fan.run(runner=pool)

if __name__ == "__main__":  # the pool's workers import this module again
    main()
"""

SCALE = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from pathlib import Path
from bench_scale import SHAPES
from flowyml_tui.engine.load.loader import load_pipelines
work = Path(sys.argv[3])
work.mkdir(parents=True)
shape, steps = sys.argv[4], int(sys.argv[5])
pipelines = {}
for size in (10, steps):
    path = work / f"p{size}.py"
    path.write_text(SHAPES[shape](size))
    pipelines[size] = next(iter(load_pipelines(path).values()))
    pipelines[size].cache_dir = str(work / f"cache{size}")
pipelines[10].run()  # what a process's first run pays once
pipelines[steps].plan()  # as bench_scale's rounds do: the code is identified before the run
if sys.argv[6] == "1":
    pipelines[steps].run()
"""

JOBLIB = """
import sys
import joblib
memory = joblib.Memory(sys.argv[1], verbose=0)
@memory.cache
def add(x, i):
    return x + i
calls = int(sys.argv[2])
for i in range(calls):
    add(i, i)
for i in range(calls):
    add(i, i)
for _ in range(int(sys.argv[3])):
    for i in range(calls):
        add(i, i)
"""


def instructions(code: str, *args: str) -> int:
    """Instructions `python -c code args` executes, whole process, counted by callgrind."""
    return sum(thread_instructions(code, *args))


def thread_instructions(code: str, *args: str) -> list[int]:
    """Instructions `python -c code args` executes, by thread (the main one first), counted
    by callgrind.

    The private code cache is off, so both processes of a pair compile the same way, and the
    hash seed is fixed: with random seeds a run's count moved by ~1 M instructions (dict and
    set probing differ), more than the changes this measures.
    """
    env = {**os.environ, "FLOWYML_TUI_CODE_CACHE": "off", "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--separate-threads=yes",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                "-c",
                code,
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        counts = []
        for part in sorted(Path(tmp).glob("callgrind.out-*")):
            found = re.search(r"^totals:\s*(\d+)", part.read_text(), re.M)
            if found is None:
                raise RuntimeError(f"no count in {part.name}:\n{out.stderr[-2000:]}")
            counts.append(int(found.group(1)))
    if not counts:
        raise RuntimeError(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return counts


def fanout(width: int, runs: int) -> None:
    """The driver's instructions per executed step of a cold `width`-step fan-out."""
    paths = (str(REPO), str(REPO / "benchmarks"))
    for where in ("inline", "jobs"):
        with tempfile.TemporaryDirectory() as tmp:
            counts = [
                thread_instructions(FANOUT, *paths, f"{tmp}/{n}", str(width), str(n), where)
                for n in (0, runs)
            ]
        threads = [(b - a) / runs / width for a, b in zip(*counts, strict=False)]
        shown = ", ".join(f"{t:,.0f}" for t in threads)
        label = "inline" if where == "inline" else "--jobs 2, driver"
        print(
            f"flowyml-tui: cold {width}-step fan-out, cache off, {label}: "
            f"{sum(threads):,.0f} instructions a step (by thread: {shown})"
        )


def scale(shapes: list[str], sizes: tuple[int, int]) -> None:
    """A cold run's instructions at two sizes (`bench_scale.py`'s shapes): what the time of a
    run would be on a machine whose speed did not drift, without the kernel's share."""
    paths = (str(REPO), str(REPO / "benchmarks"))
    for shape in shapes:
        counts = []
        for size in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                pair = [
                    instructions(SCALE, *paths, f"{tmp}/{m}", shape, str(size), str(m))
                    for m in (0, 1)
                ]
            counts.append(pair[1] - pair[0])
        print(
            f"flowyml-tui: cold {shape}, {sizes[0]:,} and {sizes[1]:,} steps: "
            f"{counts[0] / 1e6:,.0f} M and {counts[1] / 1e6:,.0f} M instructions "
            f"({counts[1] / counts[0]:.2f}x)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--fanout", type=int, default=0, help="also count a W-step fan-out")
    parser.add_argument(
        "--scale",
        nargs="+",
        default=[],
        choices=["chain", "fan-out"],
        help="also count a cold run of these shapes at 1,000 and 10,000 steps (minutes each)",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not on PATH: install it (Debian: apt-get install valgrind) to count")
        return 0
    if args.fanout:
        fanout(args.fanout, args.runs)
    if args.scale:
        scale(args.scale, (1000, 10000))
    paths = (str(REPO), str(REPO / "benchmarks"))
    with tempfile.TemporaryDirectory() as tmp:
        ours = [
            instructions(OURS, *paths, str(Path(tmp) / str(n)), str(args.steps), str(n))
            for n in (0, args.runs)
        ]
    per_run = (ours[1] - ours[0]) / args.runs
    per_step = per_run / args.steps
    print(
        f"flowyml-tui: fully cached {args.steps}-step chain, whole run() with its record: "
        f"{per_run / 1e6:.2f} M instructions a run, {per_step:,.0f} a step"
    )
    try:
        import joblib  # noqa: F401
    except ImportError:
        print("joblib is not installed: no peer figure")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        peer = [
            instructions(JOBLIB, str(Path(tmp) / str(n)), str(args.calls), str(n)) for n in (0, 1)
        ]
    per_call = (peer[1] - peer[0]) / args.calls
    print(
        f"joblib.Memory: {per_call:,.0f} instructions a cached call; "
        f"flowyml-tui's cached step is {per_call / per_step:.1f}x fewer"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
