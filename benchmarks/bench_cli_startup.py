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


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one run of `argv`, which must succeed."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, argv)
    return wall, usage.ru_utime + usage.ru_stime


def time_processes(
    runs: dict[str, list[str]], repeat: int, env: dict[str, str]
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) of each command, `repeat` rounds of one run each, interleaved so that all
    see the same machine load; a warm-up run first fills the caches and writes the .pyc files.
    """
    for argv in runs.values():
        subprocess.run(argv, check=True, capture_output=True, env=env)
    timings: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
    for _ in range(repeat):
        for label, argv in runs.items():
            timings[label].append(run_once(argv, env))
    return timings


DEPENDENCIES = "import argparse, pathlib, diskcache, msgspec.json, xxhash"


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
            # What any cached run must import before it does anything of its own: the
            # store's diskcache (sqlite3), msgspec for entries and records, xxhash, pathlib,
            # argparse. The floor under the CLI's figures, printed beside them.
            "import of the dependencies": [sys.executable, "-c", DEPENDENCIES],
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
        medians: dict[str, tuple[float, float]] = {}
        for label, timings in time_processes(runs, args.repeat, env).items():
            walls, cpus = [t[0] for t in timings], [t[1] for t in timings]
            medians[label] = (statistics.median(walls), statistics.median(cpus))
            print(
                f"{label:<34} wall median {medians[label][0] * 1e3:6.1f} ms "
                f"(best {min(walls) * 1e3:6.1f})   CPU median {medians[label][1] * 1e3:6.1f} ms"
                f"   ({args.repeat} runs)"
            )
    bare_wall, bare_cpu = medians["python -c pass"]
    print("whole processes, fully cached, each with its run record written; ratios of medians:")
    floor = medians["import of the dependencies"][0] / bare_wall
    print(f"  {'import of the dependencies':<34} {floor:5.1f}x python -c pass wall (the floor)")
    for label, target in (
        ("flowyml-tui run quickstart.py", 5),
        (f"flowyml-tui run {args.steps}-step chain", 10),
    ):
        ratio = medians[label][0] / bare_wall
        verdict = "met" if ratio < target else f"missed by {ratio / target:.2f}x"
        print(
            f"  {label:<34} {ratio:5.1f}x python -c pass wall ({medians[label][1] / bare_cpu:.1f}x"
            f" CPU)   target under {target}x: {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
