"""Built-in Prometheus metrics, when prometheus_client is installed (the `[metrics]` extra)."""

from __future__ import annotations

import subprocess
import sys
import threading

from flowyml_tui import CachePrimitive
from tests.needs import need

from .conftest import Clock

prometheus_client = need("prometheus_client")

from flowyml_tui.engine.primitive.scrape import LATENCY, CallCacheCollector  # noqa: E402
from flowyml_tui.engine.primitive.series import Series  # noqa: E402


def sample(metric: str, cache: str) -> float | None:
    return prometheus_client.REGISTRY.get_sample_value(metric, {"cache": cache})


def shout(data: str, context: object) -> str:
    return data.upper()


def test_hits_misses_expirations_and_latency_are_counted_per_cache(clock: Clock) -> None:
    cache = CachePrimitive(lambda d, c: d, ttl_seconds=10, name="metrics-test", clock=clock)
    other = CachePrimitive(lambda d, c: d, name="metrics-other")
    for key in ("a", "a", "b"):
        cache.call(key)
    clock.advance(10)
    cache.call("a")
    other.call("a")
    assert sample("flowyml_cache_hits_total", "metrics-test") == 1
    assert sample("flowyml_cache_misses_total", "metrics-test") == 3
    assert sample("flowyml_cache_expirations_total", "metrics-test") == 1
    assert sample("flowyml_cache_latency_seconds_count", "metrics-test") == 4
    assert sample("flowyml_cache_misses_total", "metrics-other") == 1


def test_metrics_false_counts_nothing() -> None:
    cache = CachePrimitive(lambda d, c: d, name="metrics-off", metrics=False)
    cache.call(1)
    assert sample("flowyml_cache_misses_total", "metrics-off") is None


def test_without_the_extra_prometheus_client_is_never_imported() -> None:
    code = (
        "import sys, importlib.util as u; u.find_spec = lambda name, *a: None;"
        "from flowyml_tui import CachePrimitive;"
        "c = CachePrimitive(lambda d, ctx: d); c.call(1); c.call(1);"
        "print('prometheus_client' in sys.modules, c.get_stats()['hits'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "1"]


NO_CALLS = """
import asyncio, sys
import prometheus_client
from flowyml_tui import CachePrimitive

now = [1000.0]
cache = CachePrimitive(
    lambda d, c: d, ttl_seconds=10, name="metrics-no-calls", clock=lambda: now[0]
)
reached = []

def profile(frame, event, arg):
    if event == "call" and "prometheus_client" in frame.f_code.co_filename:
        reached.append(frame.f_code.co_name)

sys.setprofile(profile)
try:
    for key in ("a", "a", "b", "a"):  # misses, hits
        cache.call(key)
    asyncio.run(cache.execute("b"))
    now[0] += 10
    cache.call("a")  # an expiration
finally:
    sys.setprofile(None)
sample = prometheus_client.REGISTRY.get_sample_value
labels = {"cache": "metrics-no-calls"}
print(reached, sample("flowyml_cache_hits_total", labels),
      sample("flowyml_cache_expirations_total", labels),
      sample("flowyml_cache_latency_seconds_count", labels))
"""


def test_calls_never_reach_prometheus_client_only_a_scrape_does() -> None:
    """In a fresh interpreter: a Python-level profile function in this test process, after
    other tests' threads and async exceptions, made the run hang (a test-order artefact)."""
    out = subprocess.run(
        [sys.executable, "-c", NO_CALLS], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["[]", "3.0", "1.0", "6.0"]


def test_threads_lose_no_count_without_a_lock() -> None:
    cache = CachePrimitive(shout, key_fn=lambda d, c: d, name="metrics-threads")
    cache.call("x")

    def hits() -> None:
        for _ in range(5000):
            cache.call("x")

    workers = [threading.Thread(target=hits) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sample("flowyml_cache_hits_total", "metrics-threads") == 20_000
    assert sample("flowyml_cache_latency_seconds_count", "metrics-threads") == 20_001


def test_latency_buckets_and_sum_match_prometheus_clients_own_histogram() -> None:
    """The same durations, one through prometheus_client's Histogram, one through the series
    a call fills: every exported sample is equal (boundaries included: le is "<=")."""
    durations = [0.0, 1e-6, 0.005, 0.0050001, 0.01, 0.3, 0.75, 9.99, 10.0, 10.5, 3600.0]
    theirs = prometheus_client.CollectorRegistry()
    histogram = prometheus_client.Histogram(*LATENCY, ["cache"], registry=theirs)
    ours = prometheus_client.CollectorRegistry()
    series = Series()
    ours.register(CallCacheCollector({"same": series}))
    for seconds in durations:
        histogram.labels(cache="same").observe(seconds)
        series.observe(seconds)

    def samples(registry: prometheus_client.CollectorRegistry) -> list[tuple[str, str, float]]:
        return [
            (s.name, s.labels.get("le", ""), s.value)
            for family in registry.collect()
            if family.name == LATENCY[0]
            for s in family.samples
            if not s.name.endswith("_created")
        ]

    expected = samples(theirs)
    assert len(expected) == 17 and samples(ours) == expected


def test_disable_created_metrics_drops_the_created_series_as_prometheus_client_does() -> None:
    CachePrimitive(shout, name="metrics-created")
    prometheus_client.disable_created_metrics()
    try:
        text = prometheus_client.generate_latest().decode()
    finally:
        prometheus_client.enable_created_metrics()
    assert 'flowyml_cache_hits_total{cache="metrics-created"} 0.0' in text
    assert 'created{cache="metrics-created"}' not in text
    assert 'flowyml_cache_hits_created{cache="metrics-created"}' in (
        prometheus_client.generate_latest().decode()
    )
