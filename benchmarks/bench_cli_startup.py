"""Whole-process cost of `flowyml-tui run` on a fully cached pipeline, beside a bare interpreter.

Every save in the TUI and every CI call pays a fresh process, so this times what a user waits
for: interpreter start, imports, loading the pipeline file, reading the cache, the run and its
run record, exit. Targets (issue 7): quickstart under 5x `python -c pass`; a 1000-step chain
under 10x. Prints figures only.

    python benchmarks/bench_cli_startup.py [--repeat 15] [--steps 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_cached_chain import chain_source

REPO = Path(__file__).resolve().parent.parent


def cli() -> list[str]:
    """The installed `flowyml-tui` script beside this interpreter, else `python -m flowyml_tui`."""
    script = Path(sys.executable).with_name("flowyml-tui")
    if script.exists():
        return [str(script)]
    found = shutil.which("flowyml-tui")
    return [found] if found else [sys.executable, "-m", "flowyml_tui"]


def time_process(argv: list[str], repeat: int, env: dict[str, str]) -> list[float]:
    """Wall time of `argv`, run `repeat` times (after a warm-up run: caches filled, .pyc written)."""
    subprocess.run(argv, check=True, capture_output=True, env=env)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    # As a user's shell has it: bytecode caches written and used, stdout buffered.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        chain = workdir / "chain.py"
        chain.write_text(chain_source(args.steps))
        quickstart = str(REPO / "pipelines" / "quickstart.py")
        runs = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "flowyml-tui run quickstart.py": [
                *cli(),
                "run",
                quickstart,
                "--cache-dir",
                str(workdir / "q"),
            ],
            f"flowyml-tui run {args.steps}-step chain": [
                *cli(),
                "run",
                str(chain),
                "--cache-dir",
                str(workdir / "c"),
            ],
        }
        medians = {}
        for label, argv in runs.items():
            timings = time_process(argv, args.repeat, env)  # the warm-up run fills the cache
            medians[label] = statistics.median(timings)
            print(
                f"{label:<34} median {medians[label] * 1e3:7.1f} ms   "
                f"best {min(timings) * 1e3:7.1f} ms   ({args.repeat} runs)"
            )
    bare = medians["python -c pass"]
    print("whole processes, fully cached, each with its run record written; medians:")
    for label, target in (
        ("flowyml-tui run quickstart.py", 5),
        (f"flowyml-tui run {args.steps}-step chain", 10),
    ):
        ratio = medians[label] / bare
        verdict = "met" if ratio < target else f"missed by {ratio / target:.2f}x"
        print(f"  {label:<34} {ratio:5.1f}x python -c pass   (target under {target}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
