"""What a CachePrimitive promises beyond the seed's examples: keys, TTL, LRU, errors, API shape."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any

import pytest

from flowyml_tui import CachePrimitive, WorkflowContext
from flowyml_tui.engine.errors import FlowymlError, UnhashableInput
from flowyml_tui.engine.primitive import CallCacheError

from .conftest import Clock, FakeLLM


def double(data: Any, context: Any) -> Any:
    return [data, data]


def test_default_key_is_the_engine_fingerprint_stable_across_processes() -> None:
    """Without key_fn the key is the data's xxh3 fingerprint: the same in every process."""
    cache = CachePrimitive(double)
    cache.call({"b": [1, 2], "a": "x"})
    code = (
        "from flowyml_tui.engine.hashing import fingerprint;"
        "print(fingerprint({'a': 'x', 'b': [1, 2]}))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert cache.keys() == [other]


def test_equal_data_hits_even_as_a_new_object() -> None:
    calls = []
    cache = CachePrimitive(lambda d, c: calls.append(d) or len(calls))
    assert cache.call({"rows": [1, 2, 3]}) == cache.call({"rows": [1, 2, 3]}) == 1
    assert cache.call({"rows": [1, 2, 4]}) == 2


def test_ttl_counts_an_expired_entry_as_expiration_and_miss(clock: Clock) -> None:
    cache = CachePrimitive(lambda d, c: clock.now, ttl_seconds=10, clock=clock)
    first = cache.call("k")
    clock.advance(9.99)
    assert cache.call("k") == first
    clock.advance(0.01)
    assert cache.call("k") != first
    assert cache.get_stats() == {
        "size": 1,
        "hits": 1,
        "misses": 2,
        "expirations": 1,
        "hit_rate": 33.33,
        "saved_cost": 0.0,
        "spent_cost": 0.0,
    }


def test_ttl_none_never_expires(clock: Clock) -> None:
    cache = CachePrimitive(lambda d, c: clock.now, ttl_seconds=None, clock=clock)
    first = cache.call("k")
    clock.advance(10**9)
    assert cache.call("k") == first


def test_evict_expired_returns_how_many_it_removed(clock: Clock) -> None:
    cache = CachePrimitive(lambda d, c: d, ttl_seconds=60, clock=clock)
    cache.call("old-1")
    cache.call("old-2")
    clock.advance(30)
    cache.call("young")
    clock.advance(30)
    assert cache.evict_expired() == 2
    assert cache.keys() == [cache.key_for("young")]
    assert cache.get_stats()["expirations"] == 2
    assert cache.evict_expired() == 0


def test_max_size_evicts_the_least_recently_used() -> None:
    cache = CachePrimitive(lambda d, c: d, max_size=3, key_fn=lambda d, c: d)
    for key in ("a", "b", "c"):
        cache.call(key)
    cache.call("a")  # a is now the most recent
    cache.get("b")  # get() is a use too
    cache.call("d")
    assert sorted(cache.keys()) == ["a", "b", "d"]
    assert cache.get_stats()["size"] == 3


def test_exceptions_propagate_and_are_not_cached() -> None:
    attempts = []

    async def flaky(data: Any, context: Any) -> str:
        attempts.append(data)
        if len(attempts) == 1:
            raise ConnectionError("API down")
        return "ok"

    cache = CachePrimitive(flaky)
    with pytest.raises(ConnectionError, match="API down"):
        asyncio.run(cache.execute("q"))
    assert cache.keys() == []
    assert asyncio.run(cache.execute("q")) == "ok"
    assert len(attempts) == 2


def test_hit_rate_is_zero_before_any_call_and_a_two_decimal_percent() -> None:
    cache = CachePrimitive(lambda d, c: d)
    assert cache.get_stats()["hit_rate"] == 0.0
    for key in ("a", "a", "a", "b", "c", "d"):
        cache.call(key)
    assert cache.get_stats()["hit_rate"] == 33.33


def test_primitive_may_be_an_object_with_execute() -> None:
    class Summariser:
        def __init__(self) -> None:
            self.calls = 0

        async def execute(self, data: str, context: Any) -> str:
            self.calls += 1
            return data[:3]

    summariser = Summariser()
    cache = CachePrimitive(summariser)
    assert cache.name.endswith("Summariser")
    assert asyncio.run(cache.execute("abcdef")) == asyncio.run(cache.execute("abcdef")) == "abc"
    assert summariser.calls == 1


def test_execute_also_runs_sync_primitives() -> None:
    cache = CachePrimitive(lambda d, c: d + 1)
    assert asyncio.run(cache.execute(1, WorkflowContext())) == 2


def test_call_on_an_async_primitive_says_to_use_execute(llm: FakeLLM) -> None:
    cache = CachePrimitive(llm)
    with pytest.raises(FlowymlError, match=r"await cached\.execute"):
        cache.call({"prompt": "p"}, None)
    assert cache.keys() == []


def test_cache_key_fn_is_an_alias_of_key_fn_and_not_both() -> None:
    cache = CachePrimitive(lambda d, c: d, cache_key_fn=lambda d, c: f"k-{d}")
    cache.call(1)
    assert cache.keys() == ["k-1"] and cache.cache_key_fn is cache.key_fn
    with pytest.raises(TypeError, match="not both"):
        CachePrimitive(lambda d, c: d, key_fn=str, cache_key_fn=str)


def test_default_name_is_the_qualified_name_of_the_callable() -> None:
    assert CachePrimitive(double).name == f"{__name__}.double"
    assert CachePrimitive(CachePrimitive(double)).name == f"{__name__}.double"
    assert CachePrimitive(double, name="mine").name == "mine"


def test_data_without_a_fingerprint_asks_for_a_key_fn() -> None:
    cache = CachePrimitive(lambda d, c: 1)
    with pytest.raises(UnhashableInput, match="key_fn"):
        cache.call(threading.Lock())


def test_a_key_fn_may_return_a_non_string_which_is_fingerprinted() -> None:
    cache = CachePrimitive(lambda d, c: d, key_fn=lambda d, c: (d["a"], c.user_id))
    cache.call({"a": 1, "noise": 1}, WorkflowContext(user_id="u"))
    cache.call({"a": 1, "noise": 2}, WorkflowContext(user_id="u"))
    assert cache.get_stats()["hits"] == 1


def test_invalidate_by_data_removes_it_from_every_tier() -> None:
    inner = CachePrimitive(lambda d, c: d)
    outer = CachePrimitive(inner, key_fn=lambda d, c: f"k{d}")
    outer.call(1)
    assert inner.keys() and outer.keys()
    assert outer.invalidate(data=1) is True
    assert inner.keys() == [] and outer.keys() == []


def test_get_without_primitive_is_a_plain_cache() -> None:
    cache = CachePrimitive(ttl_seconds=300)
    cache.set({"q": 1}, "v")
    assert cache.get({"q": 1}) == "v"
    assert cache.get({"q": 2}, default="none") == "none"
    with pytest.raises(FlowymlError, match="wraps no primitive"):
        cache.call({"q": 2})


def test_workflow_context_get_reads_state_then_metadata() -> None:
    context = WorkflowContext(workflow_id="w", user_id="u", tier="gold", metadata={"region": "eu"})
    assert context.get("tier") == "gold"
    assert context.get("region") == "eu"
    assert context.get("missing", "default") == "default"
    assert context.state == {"tier": "gold"}


def test_a_redis_backend_without_a_url_says_where_to_give_one(monkeypatch) -> None:
    monkeypatch.delenv("FLOWYML_TUI_SHARED", raising=False)
    with pytest.raises(CallCacheError, match=r"redis_url=.*FLOWYML_TUI_SHARED"):
        CachePrimitive(double, backend="redis")
    with pytest.raises(FlowymlError, match="unknown call-cache backend"):
        CachePrimitive(double, backend="memcached")
