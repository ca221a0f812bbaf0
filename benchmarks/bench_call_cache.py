"""How fast a CachePrimitive hit is, beside the peers, with Prometheus metrics on and off.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_call_cache.py [--number 20000]
    PYTHONPATH=. .venv/bin/python benchmarks/bench_call_cache.py --instructions

Target (issue #30): a memory hit, sync and async, with metrics on costs at most 2x a
`cachetools.cached(TTLCache)` hit, and so with metrics off; the metrics are paid when
Prometheus scrapes, so the last block times a scrape. Disk hit vs diskcache's own `get` of
the same value; Redis hit (signed, SHA-256 verified) vs a bare redis-py GET on the same
server: `--redis-url URL`, else a throwaway local `redis-server` when one is on PATH. Needs
the `[bench]` extra (cachetools) and, for the metrics-on rows, the `[metrics]` extra
(prometheus_client). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import importlib.util
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import cachetools
import diskcache

from flowyml_tui import CachePrimitive, WorkflowContext

METRICS = importlib.util.find_spec("prometheus_client") is not None
PROMPT = {"prompt": "What is TTA.dev?", "model": "gpt-4", "temperature": 0.0}
RESPONSE = {
    "response": "TTA.dev is a toolkit of composable workflow primitives. " * 8,
    "tokens": 412,
    "cost": 0.0123,
}


def llm(data: dict[str, Any], context: Any) -> dict[str, Any]:
    return RESPONSE


Timer = Callable[[int], float]
"""Runs a subject `number` times and returns the seconds it took."""


def sync_timer(fn: Callable[[], Any]) -> Timer:
    return lambda number: timeit.timeit(fn, number=number)


def async_timer(loop: asyncio.AbstractEventLoop, fn: Callable[[], Awaitable[Any]]) -> Timer:
    """`await fn()` `number` times in one running loop, as a service's handlers would."""

    async def repeat(number: int) -> float:
        start = time.perf_counter()
        for _ in range(number):
            await fn()
        return time.perf_counter() - start

    return lambda number: loop.run_until_complete(repeat(number))


def paired_us(timers: dict[str, Timer], number: int, rounds: int = 7) -> dict[str, float]:
    """Best of `rounds` each, the timings interleaved: a noisy neighbour then slows every row
    alike (a network round trip varies 2x from one second to the next on a shared machine)."""
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(rounds):
        for label, timer in timers.items():
            best[label] = min(best[label], timer(number))
    return {label: seconds / number * 1e6 for label, seconds in best.items()}


def row(label: str, us: float, anchor: float | None = None) -> None:
    ratio = f"{us / anchor:5.2f}x" if anchor else ""
    print(f"  {label:<56} {us:8.2f} us  {ratio}")


def by_prompt(data: dict[str, Any], context: Any) -> str:
    return data["prompt"]


def cached_pair(**settings: Any) -> dict[str, CachePrimitive]:
    """The same cache with Prometheus metrics off and, when installed, on; each primed."""
    context = WorkflowContext(workflow_id="bench")
    pair = {"off": CachePrimitive(llm, key_fn=by_prompt, metrics=False, **settings)}
    if METRICS:
        name = f"{settings.get('name', 'bench')}-metrics"
        pair["on"] = CachePrimitive(
            llm, key_fn=by_prompt, metrics=True, **{**settings, "name": name}
        )
    for cached in pair.values():
        cached.call(PROMPT, context)
    return pair


def memory(number: int) -> None:
    context = WorkflowContext(workflow_id="bench")
    key = PROMPT["prompt"]
    ttl: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=1000, ttl=3600)
    ttl[key] = RESPONSE

    @cachetools.cached(cachetools.TTLCache(maxsize=1000, ttl=3600), key=by_prompt)
    def peer(data: dict[str, Any], context: Any) -> dict[str, Any]:
        return RESPONSE

    @functools.lru_cache(maxsize=1000)
    def lru(prompt: str) -> dict[str, Any]:
        return RESPONSE

    async def async_peer(data: dict[str, Any], context: Any) -> dict[str, Any]:
        return peer(data, context)

    peer(PROMPT, context)
    lru(key)
    pair = cached_pair(backend="memory", name="bench-memory")
    by_fp = CachePrimitive(llm, backend="memory", metrics=False, name="bench-fp")
    by_fp.call(PROMPT, context)
    loop = asyncio.new_event_loop()
    timers: dict[str, Timer] = {
        "cachetools.cached(TTLCache) hit": sync_timer(lambda: peer(PROMPT, context)),
        "cachetools.TTLCache[key] (the lookup alone)": sync_timer(lambda: ttl[key]),
        "functools.lru_cache hit": sync_timer(lambda: lru(key)),
    }
    for state, cached in pair.items():
        timers[f"CachePrimitive.call, metrics {state}"] = sync_timer(
            functools.partial(cached.call, PROMPT, context)
        )
    timers["CachePrimitive.call, default key (xxh3), metrics off"] = sync_timer(
        lambda: by_fp.call(PROMPT, context)
    )
    timers["await async def around cachetools.cached(TTLCache)"] = async_timer(
        loop, lambda: async_peer(PROMPT, context)
    )
    for state, cached in pair.items():
        timers[f"await CachePrimitive.execute, metrics {state}"] = async_timer(
            loop, functools.partial(cached.execute, PROMPT, context)
        )
    # Many short rounds: a sub-microsecond row is disturbed by any neighbour, and the least
    # disturbed of 25 rounds is steadier than the least of 7 long ones.
    timings = paired_us(timers, max(number // 4, 1000), rounds=25)
    loop.close()
    print(
        "memory hit (dict prompt -> dict response, key_fn string key; best of 25 rounds of "
        f"{max(number // 4, 1000)}, every row interleaved; target: metrics on <= 2x the first row)"
    )
    anchor = timings["cachetools.cached(TTLCache) hit"]
    for label, us in timings.items():
        row(label, us, anchor)
    if not METRICS:
        print("  (metrics on: skipped; pip install 'flowyml-tui[metrics]' for those rows)")


def disk(number: int) -> None:
    context = WorkflowContext(workflow_id="bench")
    key = PROMPT["prompt"]
    with tempfile.TemporaryDirectory() as tmp:
        raw = diskcache.Cache(f"{tmp}/raw")
        raw.set(key, RESPONSE)
        pair = cached_pair(backend="disk", directory=f"{tmp}/ours", name="bench-disk")
        timers = {"diskcache.Cache.get": sync_timer(lambda: raw.get(key))}
        for state, cached in pair.items():
            timers[f"CachePrimitive(backend='disk').call, metrics {state}"] = sync_timer(
                functools.partial(cached.call, PROMPT, context)
            )
        timings = paired_us(timers, number)
        print("disk hit (same value; ours verifies an xxh3 checksum before unpickling)")
        anchor = timings["diskcache.Cache.get"]
        for label, us in timings.items():
            row(label, us, anchor)
        for cached in pair.values():
            cached.close()
        raw.close()


def redis_block(number: int, url: str | None) -> None:
    import redis

    with tempfile.TemporaryDirectory() as tmp:
        server = None
        if url is None:
            if shutil.which("redis-server") is None:
                print("redis hit: skipped (no --redis-url and no redis-server on PATH)")
                return
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.cache.redis_server import RedisServer

            server = RedisServer(Path(tmp))
            url = server.url
        os.environ.setdefault("FLOWYML_TUI_SECRET", "bench-secret")
        try:
            redis_hits(number, url, redis.Redis.from_url(url))
        finally:
            if server is not None:
                server.stop()


def redis_hits(number: int, url: str, client: Any) -> None:
    context = WorkflowContext(workflow_id="bench")
    client.set("bench:bare", pickle.dumps(RESPONSE, protocol=pickle.HIGHEST_PROTOCOL))
    pair = cached_pair(backend="redis", redis_url=url, name="bench-redis")
    digest = hashlib.sha256(client.get("bench:bare")).digest()

    def verified_get() -> Any:
        blob = client.get("bench:bare")
        if hashlib.sha256(blob).digest() != digest:
            raise ValueError("tampered")
        return pickle.loads(blob)

    fair_label = "redis-py GET + SHA-256 + loads (the fair anchor)"
    timers = {
        "redis-py GET (bytes only)": sync_timer(lambda: client.get("bench:bare")),
        "redis-py GET + pickle.loads": sync_timer(lambda: pickle.loads(client.get("bench:bare"))),
        fair_label: sync_timer(verified_get),
    }
    for state, cached in pair.items():
        timers[f"CachePrimitive(backend='redis').call, metrics {state}"] = sync_timer(
            functools.partial(cached.call, PROMPT, context)
        )
    timings = paired_us(timers, number)
    print("redis hit (loopback; ours checks an HMAC and a SHA-256 before unpickling)")
    anchor = timings["redis-py GET (bytes only)"]
    for label, us in timings.items():
        row(label, us, anchor)
    for state in pair:
        ours = timings[f"CachePrimitive(backend='redis').call, metrics {state}"]
        row(f"(metrics {state}, against the fair anchor)", ours, timings[fair_label])
    for cached in pair.values():
        assert cached.get_stats()["misses"] == 1  # every timed call was a hit
        cached.clear()
        cached.close()
    client.delete("bench:bare")


def scrape(names: tuple[int, ...] = (1, 10, 100), threads: int = 4) -> None:
    """What the metrics cost now: one scrape's text, per number of cache names, beside the
    per-call Counters and Histogram of before with as many label children (their scrape)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from flowyml_tui.engine.primitive.scrape import COUNTERS, LATENCY, CallCacheCollector
    from flowyml_tui.engine.primitive.series import Series

    print(
        f"scrape (generate_latest of the call-cache families only; each cache called from "
        f"{threads} threads, so 4 latency shards each)"
    )
    for count in names:
        series = {f"cache-{index}": Series() for index in range(count)}

        def fill(every: dict[str, Series] = series) -> None:
            for one in every.values():
                one.add_hit()
                one.observe(1e-6)

        workers = [threading.Thread(target=fill) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        ours = CollectorRegistry()
        ours.register(CallCacheCollector(series))
        before = CollectorRegistry()
        counters = [Counter(name, doc, ["cache"], registry=before) for _, name, doc in COUNTERS]
        histogram = Histogram(*LATENCY, ["cache"], registry=before)
        for cache in series:
            for counter in counters:
                counter.labels(cache=cache).inc()
            histogram.labels(cache=cache).observe(1e-6)
        timings = paired_us(
            {
                "per-hit Counters + Histogram (before)": sync_timer(
                    lambda registry=before: generate_latest(registry)
                ),
                "scrape-time collector (now)": sync_timer(
                    lambda registry=ours: generate_latest(registry)
                ),
            },
            max(2000 // count, 20),
        )
        anchor = timings["per-hit Counters + Histogram (before)"]
        for label, us in timings.items():
            row(f"{count:>3} cache name(s): {label}", us, anchor)
        now = timings["scrape-time collector (now)"]
        print(f"  {'':<56} {now / count:8.2f} us a cache name")


HITS = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
import cachetools
from flowyml_tui import CachePrimitive, WorkflowContext
subject, calls = sys.argv[2], int(sys.argv[3])
PROMPT = {"prompt": "What is TTA.dev?"}
context = WorkflowContext(workflow_id="bench")
key = lambda data, context: data["prompt"]
if subject == "cachetools":
    hit = cachetools.cached(cachetools.TTLCache(1000, 3600), key=key)(lambda d, c: d)
else:
    cached = CachePrimitive(lambda d, c: d, key_fn=key, metrics=subject.endswith(" on"))
    hit = cached.call
hit(PROMPT, context)
if subject.startswith("await"):
    async def loop():
        for _ in range(calls):
            await cached.execute(PROMPT, context)
    asyncio.run(loop())
else:
    for _ in range(calls):
        hit(PROMPT, context)
"""


def instruction_counts(calls: int) -> None:
    """The memory hit in instructions (callgrind), which a busy neighbour does not change."""
    if shutil.which("valgrind") is None:
        print("instructions: skipped (valgrind is not on PATH; apt-get install valgrind)")
        return
    from bench_instructions import instructions

    repo = str(Path(__file__).resolve().parent.parent)
    subjects = ["cachetools", "call, metrics off", "await execute, metrics off"]
    if METRICS:
        subjects += ["call, metrics on", "await execute, metrics on"]
    print(f"memory hit in instructions (callgrind: a run of {calls} hits less a run of none)")
    anchor = 0.0
    for subject in subjects:
        counts = [instructions(HITS, repo, subject, str(n)) for n in (0, calls)]
        per_hit = (counts[1] - counts[0]) / calls
        anchor = anchor or per_hit
        label = "cachetools.cached(TTLCache)" if subject == "cachetools" else subject
        print(f"  {label:<56} {per_hit:8,.0f}     {per_hit / anchor:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per timing")
    parser.add_argument("--redis-url", help="a Redis to time against (default: start one)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count a memory hit's instructions under callgrind instead of timing (~3 min)",
    )
    args = parser.parse_args()
    if args.instructions:
        instruction_counts(args.number)
        return
    print(
        f"best of 7 timings of {args.number} calls each (unless said); ratios to each block's "
        "first row"
    )
    memory(args.number)
    disk(max(args.number // 10, 1000))
    redis_block(max(args.number // 20, 500), args.redis_url)
    if METRICS:
        scrape()


if __name__ == "__main__":
    main()
