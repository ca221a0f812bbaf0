"""The call cache's seams: one contract every tier passes (memory, disk, auto, a real Redis,
and any user backend), and TTA.dev's current `CachePrimitive` shape: `backend=` objects with
async get/set/delete, and its positional order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flowyml_tui import CacheBackend, CachePrimitive, InMemoryBackend, RedisBackend
from flowyml_tui.engine.errors import FlowymlError
from flowyml_tui.engine.primitive.backends import CallTier, UserTier
from flowyml_tui.engine.primitive.backends.auto import AutoTier
from flowyml_tui.engine.primitive.backends.disk import DiskTier
from flowyml_tui.engine.primitive.backends.memory import EXPIRED, HIT, MISS, NEVER, MemoryTier
from flowyml_tui.engine.primitive.backends.redis import RedisTier
from tests.cache.redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)


class DictBackend:
    """A user's own backend: three async methods, nothing of ours subclassed."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.ttls: dict[str, float | None] = {}

    async def get(self, key: str) -> Any:
        await asyncio.sleep(0)  # a real await: the tier must drive a loop
        return self.data.get(key)

    async def set(self, key: str, value: Any, ttl_seconds: float | None = None) -> None:
        self.data[key] = value
        self.ttls[key] = ttl_seconds

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path_factory.mktemp("redis-backends"))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def team(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", request.node.name.replace("[", "-").rstrip("]"))


TIERS: dict[str, Callable[[Path, RedisServer], CallTier]] = {
    "memory": lambda tmp, _: MemoryTier(100),
    "disk": lambda tmp, _: DiskTier(tmp / "calls", "contract", 100),
    "auto": lambda tmp, _: AutoTier("contract", 100),
    "redis": lambda tmp, server: RedisTier(server.url, "contract", None),
    "user backend": lambda tmp, _: UserTier(DictBackend(), "contract"),
}


@pytest.fixture(params=sorted(TIERS))
def tier(request, tmp_path, server) -> Iterator[CallTier]:
    made = TIERS[request.param](tmp_path, server)
    yield made
    made.clear()
    made.close()


def test_every_tier_keeps_value_deadline_and_cost(tier: CallTier) -> None:
    assert tier.get("a", 10.0) == (MISS, None, 0.0, 0.0)
    tier.set("a", {"v": 1}, 100.0, 0.5)
    assert tier.peek("a", 10.0) == (True, {"v": 1}, 100.0, 0.5)
    assert tier.get("a", 10.0) == (HIT, {"v": 1}, 100.0, 0.5)
    assert tier.keys() == ["a"] and tier.size() == 1


def test_every_tier_expires_by_the_callers_clock(tier: CallTier) -> None:
    tier.set("old", 1, 50.0)
    tier.set("forever", 2, NEVER)
    assert tier.peek("old", 60.0)[0] is False  # a peek drops nothing
    assert tier.get("old", 60.0)[0] == EXPIRED
    assert tier.get("old", 60.0)[0] == MISS
    assert tier.get("forever", 1e12)[0] == HIT
    tier.set("later", 3, 70.0)
    assert tier.evict_expired(80.0) == 1
    assert tier.keys() == ["forever"]


def test_every_tier_deletes_clears_and_reopens(tier: CallTier) -> None:
    tier.set("a", 1, NEVER)
    tier.set("b", 2, NEVER)
    assert tier.delete("a") is True
    assert sorted(tier.keys()) == ["b"]
    tier.close()  # released; the next use reopens
    assert tier.get("b", 0.0)[0] == HIT
    tier.clear()
    assert tier.size() == 0
    assert tier.path is None or isinstance(tier.path, Path)


def test_a_user_object_with_three_async_methods_is_a_backend(clock) -> None:
    backend = DictBackend()
    assert isinstance(backend, CacheBackend)
    calls: list[str] = []

    def shout(data: str, context: object) -> str:
        calls.append(data)
        return data.upper()

    cache = CachePrimitive(shout, backend=backend, ttl_seconds=60, clock=clock)
    assert cache.call("hi") == "HI" and cache.call("hi") == "HI"
    assert asyncio.run(cache.execute("hi")) == "HI"  # from inside a running loop too
    assert calls == ["hi"] and cache.get_stats()["hits"] == 2
    (stored,) = backend.data
    assert backend.ttls[stored] is not None and 0 < backend.ttls[stored] <= 60
    clock.advance(61)
    assert cache.call("hi") == "HI" and calls == ["hi", "hi"]  # expired by our clock


def test_tta_devs_positional_order_and_ours_both_work(clock) -> None:
    def key_fn(data: Any, context: Any) -> str:
        return data["id"]

    def fetch(data: Any, context: Any) -> str:
        return f"item {data['id']}"

    tta = CachePrimitive(fetch, key_fn, 3600.0, InMemoryBackend())
    assert tta.key_fn is key_fn and tta.ttl_seconds == 3600.0
    assert tta.call({"id": "7", "noise": 1}) == tta.call({"id": "7", "noise": 2}) == "item 7"
    assert tta.get_stats()["hits"] == 1
    ours = CachePrimitive(fetch, 60.0, key_fn)
    assert ours.ttl_seconds == 60.0 and ours.key_fn is key_fn
    with pytest.raises(FlowymlError, match="async get"):
        CachePrimitive(fetch, backend="s3")
    with pytest.raises(FlowymlError, match="async get"):
        CachePrimitive(fetch, backend=object())  # type: ignore[arg-type]


def test_in_memory_and_redis_backends_speak_the_protocol_themselves(server) -> None:
    async def use(backend: CacheBackend) -> tuple[Any, Any]:
        await backend.set("k", {"v": 1}, 30)
        found = await backend.get("k")
        await backend.delete("k")
        return found, await backend.get("k")

    assert asyncio.run(use(InMemoryBackend())) == ({"v": 1}, None)
    assert asyncio.run(use(RedisBackend(server.url, prefix="proto"))) == ({"v": 1}, None)


def test_a_redis_backend_is_shared_by_two_caches_as_a_team_would(server) -> None:
    made: list[str] = []

    def build(data: str, context: object) -> str:
        made.append(data)
        return data * 2

    first = CachePrimitive(build, backend=RedisBackend(server.url, prefix="team"), name="b")
    second = CachePrimitive(build, backend=RedisBackend(server.url, prefix="team"), name="b")
    assert first.call("x") == "xx"
    assert second.call("x") == "xx"  # a hit from what the first stored
    assert made == ["x"]
