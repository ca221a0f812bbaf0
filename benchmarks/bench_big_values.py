"""Big values: the key of a step fed a 200 MB array, and a cached run that loads no artifact.

Targets (issue #2):
- the key of a step fed a 200 MB numpy array: under 15 ms (joblib.hash: about 260 ms);
- a fully cached run over steps with 10 x 200 MB outputs loads none of them: peak RSS stays
  within 50 MB of the run's start.

    python benchmarks/bench_big_values.py [--outputs 10] [--mb 200]

Writes about outputs x mb of cache to a temp dir (2 GB by default) and removes it after.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from flowyml_tui import Pipeline, step

BIG_PIPELINE = textwrap.dedent(
    """
    import numpy as np
    from flowyml_tui import Pipeline, step

    pipeline = Pipeline("big")

    def make(i):
        @step(outputs=[f"big{i}"], name=f"big{i}")
        def produce(mb: int):
            return np.full(mb * 2**20 // 8, float(i))
        return produce

    for i in range(OUTPUTS):
        pipeline.add_step(make(i))

    @step(inputs=[f"big{i}" for i in range(OUTPUTS)], outputs=["summary"])
    def summary(PARAMS):
        return float(sum(a[0] for a in (PARAMS)))

    pipeline.add_step(summary)
    """
)

CACHED_RUN = textwrap.dedent(
    """
    import sys, time
    from flowyml_tui.engine.load.loader import load_pipelines

    def peak_rss_kb():
        # VmHWM: this process's own peak (ru_maxrss would include the parent's, kept by exec)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])

    pipeline = load_pipelines(sys.argv[1])["big"]
    pipeline.cache_dir = sys.argv[2]
    before = peak_rss_kb()
    started = time.perf_counter()
    result = pipeline.run(mb=int(sys.argv[3]))
    took = time.perf_counter() - started
    after = peak_rss_kb()
    assert all(r.cached for r in result.step_results.values()), result.step_results
    print(before, after, took)
    """
)


def bench_key(mb: int, workdir: Path) -> tuple[list[float], float | None]:
    """Time `plan()` for a step whose context holds the array: key = fingerprint + recipe."""
    array = np.random.default_rng(0).random(mb * 2**20 // 8)

    @step(outputs=["mean"])
    def mean(data):
        return float(data.mean())

    pipeline = Pipeline("key", cache_dir=workdir / "key-cache").add_step(mean)
    pipeline.plan(data=array[:10])  # warm the code identity and the store
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        pipeline.plan(data=array)
        timings.append(time.perf_counter() - started)
    try:
        import joblib
    except ImportError:
        return timings, None
    started = time.perf_counter()
    joblib.hash(array)
    return timings, time.perf_counter() - started


def bench_no_load(outputs: int, mb: int, workdir: Path) -> tuple[float, float, float]:
    path = workdir / "big.py"
    params = ", ".join(f"big{i}" for i in range(outputs))
    path.write_text(BIG_PIPELINE.replace("OUTPUTS", str(outputs)).replace("PARAMS", params))
    cache = workdir / "big-cache"
    first = subprocess.run(
        [
            sys.executable,
            "-c",
            CACHED_RUN.replace("assert all", "0 and all"),
            str(path),
            str(cache),
            str(mb),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    del first
    out = subprocess.run(
        [sys.executable, "-c", CACHED_RUN, str(path), str(cache), str(mb)],
        check=True,
        capture_output=True,
        text=True,
    )
    before, after, took = out.stdout.split()
    return int(before) / 1024, int(after) / 1024, float(took)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=10)
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        timings, joblib_seconds = bench_key(args.mb, workdir)
        print(f"key of a step fed a {args.mb} MB float64 array (plan(): fingerprint + key)")
        print(
            f"  flowyml-tui  best {min(timings) * 1e3:7.2f} ms  "
            f"median {statistics.median(timings) * 1e3:7.2f} ms   (target: under 15 ms)"
        )
        if joblib_seconds is not None:
            print(f"  joblib.hash       {joblib_seconds * 1e3:7.2f} ms")
        before, after, took = bench_no_load(args.outputs, args.mb, workdir)
        print(f"fully cached run over {args.outputs} x {args.mb} MB outputs, fresh process")
        print(
            f"  peak RSS at start {before:7.1f} MB, after the run {after:7.1f} MB: "
            f"+{after - before:.1f} MB (target: within 50 MB); run took {took * 1e3:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
