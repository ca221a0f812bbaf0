"""Concurrent identical misses make one call; different keys still run side by side."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from flowyml_tui import CachePrimitive


def test_asyncio_gather_of_one_key_calls_once() -> None:
    calls = []

    async def slow(data: Any, context: Any) -> str:
        calls.append(data)
        await asyncio.sleep(0.01)
        return f"r-{data}"

    cache = CachePrimitive(slow)

    async def main() -> list[str]:
        return await asyncio.gather(*(cache.execute("same") for _ in range(20)))

    assert asyncio.run(main()) == ["r-same"] * 20
    assert len(calls) == 1
    stats = cache.get_stats()
    assert (stats["misses"], stats["hits"]) == (1, 19)


def test_asyncio_different_keys_run_concurrently() -> None:
    both_started = asyncio.Event

    async def main() -> list[str]:
        started: list[str] = []
        gate = both_started()

        async def wait_for_the_other(data: str, context: Any) -> str:
            started.append(data)
            if len(started) == 2:
                gate.set()
            await asyncio.wait_for(gate.wait(), timeout=5)  # deadlocks if serialised
            return data

        cache = CachePrimitive(wait_for_the_other)
        return await asyncio.gather(cache.execute("a"), cache.execute("b"))

    assert asyncio.run(main()) == ["a", "b"]


def test_followers_share_the_leaders_error_and_nothing_is_cached() -> None:
    calls = []

    async def failing(data: Any, context: Any) -> str:
        calls.append(data)
        await asyncio.sleep(0.01)
        raise TimeoutError("upstream timed out")

    cache = CachePrimitive(failing)

    async def main() -> list[Any]:
        return await asyncio.gather(*(cache.execute("k") for _ in range(5)), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, TimeoutError) for r in results)
    assert len(calls) == 1 and cache.keys() == []


def test_threads_with_one_key_call_once() -> None:
    calls = []
    lock = threading.Lock()

    def slow(data: Any, context: Any) -> str:
        with lock:
            calls.append(data)
        time.sleep(0.05)
        return f"r-{data}"

    cache = CachePrimitive(slow)
    barrier = threading.Barrier(8)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.call("same"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["r-same"] * 8
    assert len(calls) == 1


@pytest.mark.timeout(20)
def test_threads_with_different_keys_run_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def meet(data: Any, context: Any) -> str:
        barrier.wait()  # BrokenBarrierError if the two calls were serialised
        return data

    cache = CachePrimitive(meet)
    results: dict[str, str] = {}
    threads = [
        threading.Thread(target=lambda k=k: results.__setitem__(k, cache.call(k))) for k in "ab"
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"a": "a", "b": "b"}
