"""How fast a CachePrimitive hit is, beside the peers, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_call_cache.py [--number 20000]

Memory hit vs cachetools.TTLCache and functools.lru_cache; disk hit vs diskcache's own `get`
of the same value. Needs the `[bench]` extra (cachetools). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import tempfile
import time
import timeit
from collections.abc import Callable
from typing import Any

import cachetools
import diskcache

from flowyml_tui import CachePrimitive, WorkflowContext

PROMPT = {"prompt": "What is TTA.dev?", "model": "gpt-4", "temperature": 0.0}
RESPONSE = {
    "response": "TTA.dev is a toolkit of composable workflow primitives. " * 8,
    "tokens": 412,
    "cost": 0.0123,
}


def llm(data: dict[str, Any], context: Any) -> dict[str, Any]:
    return RESPONSE


def per_call_us(fn: Callable[[], Any], number: int) -> float:
    """Best of 7: on a shared machine the least disturbed timing is the fairest comparison."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def async_per_call_us(cached: CachePrimitive, context: Any, number: int) -> float:
    async def loop() -> float:
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(number):
                await cached.execute(PROMPT, context)
            runs.append(time.perf_counter() - start)
        return min(runs)

    return asyncio.run(loop()) / number * 1e6


def row(label: str, us: float, anchor: float | None = None) -> None:
    ratio = f"{us / anchor:5.2f}x" if anchor else ""
    print(f"  {label:<52} {us:8.2f} us  {ratio}")


def memory(number: int) -> None:
    context = WorkflowContext(workflow_id="bench")
    key = PROMPT["prompt"]
    ttl: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=1000, ttl=3600)
    ttl[key] = RESPONSE

    @functools.lru_cache(maxsize=1000)
    def lru(prompt: str) -> dict[str, Any]:
        return RESPONSE

    lru(key)
    by_key = CachePrimitive(llm, key_fn=lambda d, c: d["prompt"], metrics=False, name="bk")
    by_fp = CachePrimitive(llm, metrics=False, name="fp")
    with_metrics = CachePrimitive(llm, key_fn=lambda d, c: d["prompt"], name="bench-metrics")
    for cached in (by_key, by_fp, with_metrics):
        cached.call(PROMPT, context)

    anchor = per_call_us(lambda: ttl[key], number)
    print("memory hit (one dict prompt -> dict response)")
    row("cachetools.TTLCache[key]", anchor, anchor)
    row("functools.lru_cache hit", per_call_us(lambda: lru(key), number), anchor)
    ours = {
        "CachePrimitive.call, key_fn (string key)": by_key,
        "CachePrimitive.call, default key (xxh3 fingerprint)": by_fp,
    }
    if with_metrics._metrics is not None:
        ours["CachePrimitive.call, key_fn, prometheus metrics on"] = with_metrics
    for label, cached in ours.items():
        row(label, per_call_us(lambda c=cached: c.call(PROMPT, context), number), anchor)
    row("await CachePrimitive.execute, key_fn", async_per_call_us(by_key, context, number), anchor)


def disk(number: int) -> None:
    context = WorkflowContext(workflow_id="bench")
    key = PROMPT["prompt"]
    with tempfile.TemporaryDirectory() as tmp:
        raw = diskcache.Cache(f"{tmp}/raw")
        raw.set(key, RESPONSE)
        ours = CachePrimitive(llm, key_fn=lambda d, c: d["prompt"], backend="disk",
                              directory=f"{tmp}/ours", metrics=False)  # fmt: skip
        ours.call(PROMPT, context)
        anchor = per_call_us(lambda: raw.get(key), number)
        print("disk hit (same value; ours verifies an xxh3 checksum before unpickling)")
        row("diskcache.Cache.get", anchor, anchor)
        hit = per_call_us(lambda: ours.call(PROMPT, context), number)
        row("CachePrimitive(backend='disk').call, key_fn", hit, anchor)
        ours.close()
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per timing")
    args = parser.parse_args()
    print(f"best of 7 timings of {args.number} calls each; ratio to the first row of each block")
    memory(args.number)
    disk(max(args.number // 10, 1000))


if __name__ == "__main__":
    main()
