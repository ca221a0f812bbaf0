"""What the safety checks cost when a store is opened and a value file is read.

Opening checks the cache dir, `store/`, `cache.db` and every value subdir (up to 256) for
owner, mode and symlinks; each value file read from disk is opened O_NOFOLLOW and fstat-ed.

    python benchmarks/bench_store_open.py [--values 300] [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from flowyml_tui.engine.cache import CacheStore
from flowyml_tui.engine.cache.local.database import open_private as _open_private


def best_ms(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=300, help="value files in the store")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache"
        store = CacheStore(path)
        for index in range(args.values):
            store._cache.set(f"v:{index}", os.urandom(40_000))  # over 32 KB: a value file
        subdirs = len(os.listdir(path / "store")) - 1
        print(f"{args.values} value files in {subdirs} value dirs")
        checks = best_ms(lambda: _open_private(path), args.repeat)
        whole = best_ms(lambda: CacheStore(path).close(), args.repeat)
        print(f"  safety checks at open: {checks:.2f} ms")
        print(f"  whole open + close:    {whole:.2f} ms")
        read = best_ms(lambda: store._cache.get("v:0"), args.repeat * 10)
        print(f"  one 40 KB value file read (checked): {read:.3f} ms")
        store.close()


if __name__ == "__main__":
    main()
