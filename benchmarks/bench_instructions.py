"""Instructions per fully cached step, ours beside joblib.Memory's cached call, under callgrind.

Wall-clock figures on a shared 2-core machine drift by 2x within minutes; the number of
instructions a piece of work executes does not. Each subject runs twice under valgrind's
callgrind, once set up only and once set up plus its measured work, and the difference is the
work's cost. Needs `valgrind` on PATH (Debian: `apt-get install valgrind`); without it this
prints why and exits. Prints figures only; takes about two minutes.

    python benchmarks/bench_instructions.py [--steps 1000] [--runs 3] [--calls 1000]
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
    """Instructions `python -c code args` executes, whole process, counted by callgrind.

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
    found = re.search(r"Collected\s*:\s*(\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not on PATH: install it (Debian: apt-get install valgrind) to count")
        return 0
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
