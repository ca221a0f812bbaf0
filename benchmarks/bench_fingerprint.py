"""How fast value fingerprints are, beside joblib.hash and raw xxh3, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_fingerprint.py [--mb 200] [--repeat 5]

Prints figures; asserts nothing (timings belong here, not in the test suite).
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np
import xxhash

from flowyml_tui.engine.hashing import code_identity, fingerprint


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time in seconds: the figure least disturbed by the rest of the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def per_call_us(fn: Callable[[], Any], number: int = 20_000) -> float:
    runs = timeit.repeat(fn, number=number, repeat=5)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="array size in MB (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best is shown)")
    args = parser.parse_args()

    n = args.mb * 1024 * 1024 // 8
    array = np.random.default_rng(0).random(n)
    mb = array.nbytes / 1e6
    print(f"float64 array: {array.nbytes / 2**20:.0f} MiB, best of {args.repeat}")

    raw = best_of(lambda: xxhash.xxh3_128(array).hexdigest(), args.repeat)
    ours = best_of(lambda: fingerprint(array), args.repeat)
    strided = array[::2]
    ours_strided = best_of(lambda: fingerprint(strided), args.repeat)
    print(f"  xxh3_128 raw          {raw * 1e3:8.2f} ms  {mb / raw / 1e3:6.1f} GB/s")
    print(f"  fingerprint           {ours * 1e3:8.2f} ms  {mb / ours / 1e3:6.1f} GB/s")
    print(f"  fingerprint (a[::2])  {ours_strided * 1e3:8.2f} ms  (non-contiguous: one copy)")
    try:
        import joblib
    except ImportError:
        print("  joblib.hash           (joblib not installed)")
    else:
        theirs = best_of(lambda: joblib.hash(array), max(1, args.repeat // 2))
        print(f"  joblib.hash (md5)     {theirs * 1e3:8.2f} ms  {theirs / ours:6.1f}x slower")

    print("small values, per call")
    for label, value in [
        ("int", 12345),
        ("str", "hello world"),
        ("float", 3.25),
        ("dict of 3", {"a": 1, "b": "x", "c": 2.0}),
        ("list of 100 floats", [float(i) for i in range(100)]),
    ]:
        print(f"  {label:<20}  {per_call_us(lambda v=value: fingerprint(v)):8.2f} us")

    def sample(x: float) -> float:
        return x * 2

    code_identity(sample)
    memo = per_call_us(lambda: code_identity(sample))
    print(f"  code_identity (memo)  {memo:8.2f} us")


if __name__ == "__main__":
    main()
