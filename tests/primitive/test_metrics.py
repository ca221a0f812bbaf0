"""Built-in Prometheus metrics, when prometheus_client is installed (the `[metrics]` extra)."""

from __future__ import annotations

import subprocess
import sys

from flowyml_tui import CachePrimitive
from tests.needs import need

from .conftest import Clock

prometheus_client = need("prometheus_client")


def sample(metric: str, cache: str) -> float | None:
    return prometheus_client.REGISTRY.get_sample_value(metric, {"cache": cache})


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
