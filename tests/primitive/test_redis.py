"""backend="redis" on a real redis-server: signed and verified like the shared step cache, an
L2 under a memory L1, and a stopped server is one warning and direct calls."""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from flowyml_tui import CachePrimitive, WorkflowContext
from flowyml_tui.engine.primitive import CallCacheError
from tests.cache.redis_server import RedisServer

from .conftest import Clock, FakeLLM

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path_factory.mktemp("redis-calls"))
    yield running
    running.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server this test alone stops."""
    running = RedisServer(tmp_path / "redis")
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def team(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", request.node.name)  # tests share one server


def shout(data: str, context: object) -> str:
    return data.upper()


def test_a_second_process_hits_what_the_first_stored(server: RedisServer) -> None:
    calls: list[str] = []

    def counted(data: str, context: object) -> str:
        calls.append(data)
        return data.upper()

    first = CachePrimitive(counted, backend="redis", redis_url=server.url, name="shared")
    assert first.call("hello") == "HELLO"
    # Another machine: its own primitive object, same name, same Redis, same secret.
    second = CachePrimitive(counted, backend="redis", redis_url=server.url, name="shared")
    assert second.call("hello") == "HELLO"
    assert calls == ["hello"]
    assert second.get_stats()["hits"] == 1 and len(second.keys()) == 1
    second.clear()
    assert first.keys() == []


def test_memory_l1_wraps_redis_l2_and_a_redis_hit_backfills_memory(
    server: RedisServer, llm: FakeLLM
) -> None:
    def build() -> tuple[CachePrimitive, CachePrimitive]:
        l2 = CachePrimitive(llm, 3600, backend="redis", redis_url=server.url, name="llm")
        l1 = CachePrimitive(l2, 300, max_size=100, backend="memory")
        return l1, l2

    context = WorkflowContext(workflow_id="multi")
    l1, l2 = build()
    asyncio.run(l1.execute({"query": "q"}, context))
    assert len(llm.calls) == 1 and len(l2.keys()) == 1

    l1, l2 = build()  # a new process: empty memory, the same Redis
    asyncio.run(l1.execute({"query": "q"}, context))
    assert len(llm.calls) == 1
    assert (l1.get_stats()["misses"], l2.get_stats()["hits"]) == (1, 1)
    asyncio.run(l1.execute({"query": "q"}, context))  # now memory answers; Redis not asked
    assert (l1.get_stats()["hits"], l2.get_stats()["hits"]) == (1, 1)


def test_a_tampered_value_is_a_miss_and_is_never_unpickled(
    server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = CachePrimitive(shout, backend="redis", redis_url=server.url, name="tamper")
    cache.call("x")
    client = redis.Redis.from_url(server.url)
    [name] = client.keys("flowyml:calls:*tamper*")
    raw = client.get(name)
    marker = tmp_path / "unpickled"

    class Bomb:  # unpickling it creates `marker`
        def __reduce__(self) -> tuple:
            return (open, (str(marker), "w"))

    # Keep the signature and header, swap in another value: its SHA-256 no longer matches.
    honest = pickle.dumps("X", protocol=pickle.HIGHEST_PROTOCOL)
    assert raw.endswith(honest)
    client.set(name, raw[: -len(honest)] + pickle.dumps(Bomb()))
    with caplog.at_level(logging.WARNING, logger="flowyml_tui.cache"):
        assert cache.call("x") == "X"  # a miss: recomputed
    assert not marker.exists()
    assert cache.get_stats()["misses"] == 2
    assert "fails its SHA-256" in caplog.text


def test_a_record_signed_with_another_secret_is_refused(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def counted(data: str, context: object) -> str:
        calls.append(data)
        return data

    monkeypatch.setenv("FLOWYML_TUI_SECRET", "someone-else")
    CachePrimitive(counted, backend="redis", redis_url=server.url, name="signed").call("v")
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    with caplog.at_level(logging.WARNING, logger="flowyml_tui.cache"):
        CachePrimitive(counted, backend="redis", redis_url=server.url, name="signed").call("v")
    assert calls == ["v", "v"]
    assert "signed with another secret" in caplog.text


def test_redis_stopped_mid_run_warns_once_and_calls_directly(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def counted(data: int, context: object) -> int:
        calls.append(data)
        return data * 2

    cache = CachePrimitive(counted, backend="redis", redis_url=own_server.url, name="down")
    assert cache.call(1) == 2 and cache.call(1) == 2
    assert calls == [1]
    own_server.stop()
    with caplog.at_level(logging.WARNING, logger="flowyml_tui.cache"):
        assert [cache.call(n) for n in (1, 2, 3)] == [2, 4, 6]
    assert calls == [1, 1, 2, 3]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "unreachable" in warned[0].getMessage()


def test_strict_raises_when_redis_is_down(own_server: RedisServer) -> None:
    cache = CachePrimitive(shout, backend="redis", redis_url=own_server.url, strict=True)
    own_server.stop()
    with pytest.raises(CallCacheError, match="unreachable"):
        cache.call("a")


def test_without_a_team_secret_nothing_is_shared(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("FLOWYML_TUI_SECRET")
    monkeypatch.delenv("FLOWYML_TUI_SECRET_FILE", raising=False)
    cache = CachePrimitive(shout, backend="redis", redis_url=server.url, name="unsigned")
    with caplog.at_level(logging.WARNING, logger="flowyml_tui.cache"):
        assert cache.call("a") == "A"
    assert "FLOWYML_TUI_SECRET" in caplog.text
    assert redis.Redis.from_url(server.url).keys("flowyml:calls:*unsigned*") == []


def test_ttl_is_kept_by_the_primitives_clock_and_by_redis(
    server: RedisServer, clock: Clock
) -> None:
    cache = CachePrimitive(
        shout, 60, backend="redis", redis_url=server.url, name="ttl", clock=clock
    )
    cache.call("t")
    [name] = redis.Redis.from_url(server.url).keys("flowyml:calls:*ttl*")
    assert 0 < redis.Redis.from_url(server.url).pttl(name) <= 60_000
    clock.advance(61)
    cache.call("t")
    assert cache.get_stats()["expirations"] == 1
