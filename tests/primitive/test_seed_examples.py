"""The seed document's examples (TTA.dev caching pattern), each run as written."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from flowyml_tui import CachePrimitive, WorkflowContext
from tests.needs import need

from .conftest import Clock, FakeLLM


def test_three_prompt_sequence_is_miss_hit_miss(llm: FakeLLM) -> None:
    cached_llm = CachePrimitive(
        primitive=llm, ttl_seconds=3600, max_size=1000, key_fn=lambda d, c: d["prompt"]
    )
    context = WorkflowContext(workflow_id="cached-workflow")

    async def main() -> list[Any]:
        return [
            await cached_llm.execute({"prompt": "What is TTA.dev?"}, context),
            await cached_llm.execute({"prompt": "What is TTA.dev?"}, context),
            await cached_llm.execute({"prompt": "What is a primitive?"}, context),
        ]

    result1, result2, result3 = asyncio.run(main())
    assert result1 == result2 != result3
    assert len(llm.calls) == 2
    stats = cached_llm.get_stats()
    assert (stats["hits"], stats["misses"], stats["size"]) == (1, 2, 2)
    assert stats["hit_rate"] == 33.33


def test_context_aware_key_keeps_users_apart(llm: FakeLLM) -> None:
    def context_aware_key(data: dict[str, Any], context: WorkflowContext) -> str:
        return f"{data['prompt']}:{context.user_id}:{context.get('tier', 'default')}"

    cached = CachePrimitive(
        primitive=llm, ttl_seconds=1800, max_size=1000, key_fn=context_aware_key
    )
    user1, user2 = WorkflowContext(user_id="user-1"), WorkflowContext(user_id="user-2")
    gold = WorkflowContext(user_id="user-1", tier="gold")

    async def main() -> None:
        await cached.execute({"prompt": "My settings"}, user1)
        await cached.execute({"prompt": "My settings"}, user2)
        await cached.execute({"prompt": "My settings"}, gold)
        await cached.execute({"prompt": "My settings"}, user1)

    asyncio.run(main())
    assert len(llm.calls) == 3
    assert sorted(cached.keys()) == [
        "My settings:user-1:default",
        "My settings:user-1:gold",
        "My settings:user-2:default",
    ]


@pytest.mark.parametrize("l1_outside", [False, True], ids=["seed-nesting", "reversed"])
def test_memory_l1_and_disk_l2_look_up_fastest_first_and_backfill(
    tmp_path: Path, llm: FakeLLM, l1_outside: bool
) -> None:
    """Whichever way they are nested, memory answers first and a disk hit refills memory."""

    def build() -> tuple[CachePrimitive, CachePrimitive, CachePrimitive]:
        """A fresh pair, as a new process would make: empty memory, the same disk dir."""
        if l1_outside:
            l2 = CachePrimitive(llm, 3600, max_size=10_000, backend="disk", directory=tmp_path)
            l1 = CachePrimitive(l2, 300, max_size=100, key_fn=lambda d, c: d["query"])
            return l1, l1, l2
        l1 = CachePrimitive(llm, 300, max_size=100, key_fn=lambda d, c: d["query"])
        l2 = CachePrimitive(l1, 3600, max_size=10_000, backend="disk", directory=tmp_path)
        return l2, l1, l2

    context = WorkflowContext(workflow_id="multi")
    outer, l1, l2 = build()
    first = asyncio.run(outer.execute({"query": "user-123"}, context))
    assert len(llm.calls) == 1
    assert l1.keys() == ["user-123"] and len(l2.keys()) == 1

    asyncio.run(outer.execute({"query": "user-123"}, context))  # L1 hit: disk not consulted
    assert (l1.get_stats()["hits"], l2.get_stats()["hits"]) == (1, 0)

    outer, l1, l2 = build()
    assert asyncio.run(outer.execute({"query": "user-123"}, context)) == first
    assert (l1.get_stats()["misses"], l2.get_stats()["hits"]) == (1, 1)
    assert l1.keys() == ["user-123"]  # backfilled
    asyncio.run(outer.execute({"query": "user-123"}, context))
    assert (l1.get_stats()["hits"], l2.get_stats()["hits"], len(llm.calls)) == (1, 1, 1)


def test_cache_warming_prepopulates_common_queries(llm: FakeLLM) -> None:
    cached_llm = CachePrimitive(primitive=llm, key_fn=lambda d, c: d["prompt"])
    common = ["What is TTA.dev?", "How do I use primitives?", "What is a workflow?"]
    context = WorkflowContext(workflow_id="cache-warming")

    async def main() -> int:
        warmed = await cached_llm.warm([{"prompt": q} for q in common], context)
        for query in common:
            await cached_llm.execute({"prompt": query}, context)
        return warmed

    assert asyncio.run(main()) == 3
    assert len(llm.calls) == 3
    assert cached_llm.get_stats()["hits"] == 3
    assert asyncio.run(cached_llm.warm([{"prompt": common[0]}])) == 0


def test_strategy_1_ttl_expires_entries(llm: FakeLLM, clock: Clock) -> None:
    cache = CachePrimitive(primitive=llm, ttl_seconds=3600, clock=clock)
    asyncio.run(cache.execute({"prompt": "p"}, WorkflowContext()))
    clock.advance(3599)
    asyncio.run(cache.execute({"prompt": "p"}, WorkflowContext()))
    clock.advance(1)
    asyncio.run(cache.execute({"prompt": "p"}, WorkflowContext()))
    assert len(llm.calls) == 2
    stats = cache.get_stats()
    assert (stats["hits"], stats["misses"], stats["expirations"]) == (1, 2, 1)


def test_strategy_2_manual_clear_invalidate_and_selective(llm: FakeLLM) -> None:
    cache = CachePrimitive(primitive=llm, key_fn=lambda d, c: f"{d['prompt']}:{c.user_id}")

    async def ask(prompt: str, user: str) -> None:
        await cache.execute({"prompt": prompt}, WorkflowContext(user_id=user))

    for prompt in ("a", "b", "specific-prompt"):
        for user in ("u1", "u2"):
            asyncio.run(ask(prompt, user))
    assert cache.get_stats()["size"] == 6

    assert cache.invalidate(key="specific-prompt:u1") is True
    assert cache.invalidate(key="specific-prompt:u1") is False

    for key in cache.keys():  # noqa: SIM118 (the seed's code, as written)
        if "u2" in key:
            cache.invalidate(key=key)
    assert sorted(cache.keys()) == ["a:u1", "b:u1"]

    cache.clear()
    assert cache.keys() == [] and cache.get_stats()["size"] == 0
    assert cache.get_stats()["misses"] == 6  # counters survive clear()


def test_strategy_3_conditional_validation_with_get_and_set(llm: FakeLLM) -> None:
    cache = CachePrimitive(primitive=llm, key_fn=lambda d, c: d["prompt"])

    def is_still_valid(result: dict[str, Any]) -> bool:
        return result["n"] > 1

    async def cached_with_validation(data: dict[str, Any], context: Any) -> dict[str, Any]:
        cached_result = cache.get(data)
        if cached_result and is_still_valid(cached_result):
            return cached_result
        fresh_result = await llm(data, context)
        cache.set(data, fresh_result)
        return fresh_result

    async def main() -> list[dict[str, Any]]:
        await cache.execute({"prompt": "q"}, None)  # n == 1: not valid any more
        return [await cached_with_validation({"prompt": "q"}, None) for _ in range(3)]

    results = asyncio.run(main())
    assert [r["n"] for r in results] == [2, 2, 2]
    assert len(llm.calls) == 2
    assert cache.get({"prompt": "never"}) is None


def test_metrics_subclass_pattern(llm: FakeLLM) -> None:
    prometheus_client = need("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    cache_hits = prometheus_client.Counter("cache_hits_total", "hits", registry=registry)
    cache_misses = prometheus_client.Counter("cache_misses_total", "misses", registry=registry)
    cache_latency = prometheus_client.Histogram("cache_latency_seconds", "l", registry=registry)

    class MetricsCachePrimitive(CachePrimitive):
        async def execute(self, data: dict[str, Any], context: Any) -> Any:
            start_time = time.time()
            cached = self.get(data, context)
            if cached:
                cache_hits.inc()
                cache_latency.observe(time.time() - start_time)
                return cached
            cache_misses.inc()
            result = await super().execute(data, context)
            cache_latency.observe(time.time() - start_time)
            return result

    cache = MetricsCachePrimitive(primitive=llm, key_fn=lambda d, c: d["prompt"], metrics=False)

    async def main() -> None:
        for prompt in ("a", "a", "b", "a"):
            await cache.execute({"prompt": prompt}, WorkflowContext())

    asyncio.run(main())
    assert registry.get_sample_value("cache_hits_total") == 2
    assert registry.get_sample_value("cache_misses_total") == 2
    assert registry.get_sample_value("cache_latency_seconds_count") == 4
    assert len(llm.calls) == 2
    # get() is a peek: the subclass's own lookups do not skew the primitive's counters.
    assert (cache.get_stats()["hits"], cache.get_stats()["misses"]) == (0, 2)
