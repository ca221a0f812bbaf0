"""What Prometheus scrapes after a known run of hits, misses, evictions and expirations.

The expected text, recorded/scrape_per_hit_counters.txt, was recorded from the version that
called `prometheus_client.Counter` on every hit, so moving the counting to scrape time is
proved to change no exported name, label or value.
Only what a clock decides is masked: `_created` timestamps and the latency histogram's sum and
its buckets below +Inf (a call's duration), whose shape is checked instead.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import redis

from flowyml_tui import CachePrimitive
from flowyml_tui.engine.cache.signed import parts
from flowyml_tui.engine.primitive.backends.redis import RedisTier
from tests.cache.redis_server import RedisServer
from tests.needs import need

from .conftest import Clock

prometheus_client = need("prometheus_client")

pytestmark = pytest.mark.timeout(60)
PROJECT = "metrics-scrape"

_SAMPLE = re.compile(
    r'^(?P<metric>\w+)\{cache="(?P<cache>[^"]*)"(?:,le="(?P<le>[^"]*)")?\} (?P<value>\S+)$'
)


def shout(data: str, context: object) -> str:
    return data.upper()


def same(data: str, context: object) -> str:
    """The data is the key, so a test can name the entry it evicts."""
    return data


def run_sequence(cache: CachePrimitive, clock: Clock, evict: str) -> None:
    """8 calls: 2 hits, 6 misses; `a` evicted; then TTL expirations, read and swept.

    With max_size=3, storing `d` evicts `a` (memory: least recently used; disk: first stored);
    `evict` names how a tier without a size bound loses `a` (Redis: its own eviction).
    """
    cache.call("a")  # miss
    assert asyncio.run(cache.execute("a")) == "A"  # hit, through the async path
    cache.call("b")  # miss
    cache.call("c")  # miss
    cache.call("d")  # miss; memory and disk evict `a` here
    if evict == "redis":
        evict_from_redis(cache, "a")
    stored = cache.keys()  # the tier's keys are the data here (key_fn=same)
    assert "a" not in stored
    cache.call("a")  # miss: it was evicted
    clock.advance(10)  # every entry's TTL is up
    asyncio.run(cache.execute("c"))  # an expiration and a miss
    cache.evict_expired()  # the rest go, each counted as an expiration
    cache.call("c")  # hit: stored again just now
    assert cache.get("c") == "C" and cache.get("zz") is None  # peeks count nothing


def evict_from_redis(cache: CachePrimitive, key: str) -> None:
    """What Redis's maxmemory policy does to a call cache's record: the key is gone."""
    client = redis.Redis.from_url(cache.redis_url)
    tier = RedisTier(cache.redis_url, cache.name, None, project=PROJECT)
    assert client.delete(tier.prefix + parts(key)) == 1
    client.close()


def scraped(prefix: str) -> list[str]:
    """The registry's text exposition, only the lines of caches named `prefix*`, normalised."""
    text = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
    latency: dict[str, list[float]] = {}
    lines = []
    for line in text.splitlines():
        if line.startswith("# ") and " flowyml_cache_" in line:
            lines.append(line)
            continue
        sample = _SAMPLE.match(line)
        if sample is None or not sample["cache"].startswith(prefix):
            continue
        metric, le, value = sample["metric"], sample["le"], sample["value"]
        if metric.endswith("_created"):
            assert float(value) > 1.6e9  # a Unix time
            line = line.replace(value, "<time>")
        elif metric == "flowyml_cache_latency_seconds_bucket" and le != "+Inf":
            latency.setdefault(sample["cache"], []).append(float(value))
            line = line.replace(f" {value}", " <n>")
        elif metric == "flowyml_cache_latency_seconds_sum":
            assert float(value) >= 0  # 0.0 before any call
            line = line.replace(value, "<seconds>")
        lines.append(line)
    for cumulative in latency.values():
        assert cumulative == sorted(cumulative)  # le buckets are cumulative
    return lines


RECORDED = Path(__file__).parent / "recorded" / "scrape_per_hit_counters.txt"
"""`scraped("scrape-")` after the test below, on the per-hit prometheus_client.Counter
version (22d8214): the scrape-time collector must export exactly this."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    running = RedisServer(tmp_path_factory.mktemp("redis-metrics"))
    yield running
    running.stop()


def test_a_scrape_after_hits_misses_evictions_and_expirations_on_every_tier(
    clock: Clock, tmp_path: Path, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", PROJECT)
    common = {"ttl_seconds": 10, "max_size": 3, "clock": clock, "key_fn": same}
    memory = CachePrimitive(shout, backend="memory", name="scrape-memory", **common)
    disk = CachePrimitive(shout, backend="disk", directory=tmp_path, name="scrape-disk", **common)
    shared = CachePrimitive(
        shout, backend="redis", redis_url=server.url, name="scrape-redis", **common
    )
    untouched = CachePrimitive(shout, name="scrape-untouched")  # exported at 0 from creation
    for cache, evict in ((memory, "size"), (disk, "size"), (shared, "redis")):
        run_sequence(cache, clock, evict)
    shared.clear()

    # Tiers: memory in front of disk. A second front with the same name (a fresh process's
    # empty memory) adds to the same series; the back tier counts its own lookups.
    back = CachePrimitive(shout, backend="disk", directory=tmp_path, name="scrape-back")
    front = CachePrimitive(back, backend="memory", name="scrape-front")
    front.call("x")  # front miss, back miss
    front.call("x")  # front hit
    again = CachePrimitive(back, backend="memory", name="scrape-front")
    again.call("x")  # front miss, back hit (backfills the front)
    again.call("x")  # front hit

    assert untouched.get_stats()["misses"] == 0
    # Per cache (hits, misses, expirations, calls timed): memory and disk 2, 6, 3, 8; Redis
    # 2, 6, 4, 8 (no size bound, so `b` was still there to expire); untouched all 0; the back
    # tier 1, 1 and no calls of its own; the two fronts together 2, 2, 0, 4.
    lines = scraped("scrape-")
    # Issue 28 added the money counters (no cost_fn here: all 0); the rest is as recorded.
    money = [line for line in lines if "_cost" in line]
    assert [line for line in lines if line not in money] == RECORDED.read_text().splitlines()
    totals = {line.rsplit(" ", 1)[1] for line in money if "_total{" in line}
    assert totals == {"0.0"}
    assert any(line.startswith("flowyml_cache_saved_cost_total{") for line in money)
