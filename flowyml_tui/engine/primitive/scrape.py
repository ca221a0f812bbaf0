"""The collector Prometheus scrapes: the call caches' counters, read only when it asks.

Imported only once prometheus_client is known to be installed (metrics.py). The families it
yields are the ones the per-hit Counters and Histogram used to export, name for name: the
counters' `_total` and `_created`, the histogram's buckets, `_count`, `_sum` and `_created`,
each labelled `cache=<name>`, in the order the names were first created.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import accumulate

from prometheus_client import REGISTRY
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from .series import BOUNDS, Series

COUNTERS = (
    ("hits", "flowyml_cache_hits", "Call-cache hits"),
    ("misses", "flowyml_cache_misses", "Call-cache misses"),
    ("expirations", "flowyml_cache_expirations", "Call-cache expirations"),
)
MONEY = (
    ("saved_cost", "flowyml_cache_saved_cost", "Cost the call-cache hits avoided (by cost_fn)"),
    ("spent_cost", "flowyml_cache_spent_cost", "Cost the call-cache misses spent (by cost_fn)"),
)
LATENCY = ("flowyml_cache_latency_seconds", "Time a cached call took, hit or miss")
_LE = [floatToGoString(bound) for bound in (*BOUNDS, float("inf"))]


def _with_created() -> bool:
    """prometheus_client's own switch (PROMETHEUS_DISABLE_CREATED_SERIES, or
    `disable_created_metrics()`), which its Counter and Histogram obey on every scrape."""
    return bool(prometheus_metrics._use_created)


class CallCacheCollector:
    """Reads every cache name's Series at scrape time; a call never reaches prometheus_client."""

    def __init__(self, series: Mapping[str, Series]) -> None:
        self._series = series

    def describe(self) -> Iterator[Metric]:
        """The family names, without reading a counter: what the registry checks for clashes."""
        for _, name, documentation in (*COUNTERS, *MONEY):
            yield CounterMetricFamily(name, documentation, labels=["cache"])
        yield HistogramMetricFamily(*LATENCY, labels=["cache"])

    def collect(self) -> Iterator[Metric]:
        named = list(self._series.items())  # a cache made during the scrape waits for the next
        created = _with_created()
        for counter, name, documentation in COUNTERS:
            family = CounterMetricFamily(name, documentation, labels=["cache"])
            for cache, series in named:
                family.add_metric(
                    [cache],
                    float(series.counts[counter].value),
                    created=series.created if created else None,
                )
            yield family
        for counter, name, documentation in MONEY:
            family = CounterMetricFamily(name, documentation, labels=["cache"])
            for cache, series in named:
                family.add_metric(
                    [cache],
                    series.money[counter].value,
                    created=series.created if created else None,
                )
            yield family
        histogram = HistogramMetricFamily(*LATENCY, labels=["cache"])
        for cache, series in named:
            counts, seconds = series.latency.totals()
            cumulative = [float(total) for total in accumulate(counts)]
            histogram.add_metric([cache], list(zip(_LE, cumulative, strict=True)), seconds)
            if created:
                histogram.add_sample(f"{LATENCY[0]}_created", {"cache": cache}, series.created)
        yield histogram


def register(series: Mapping[str, Series]) -> None:
    """Put the one collector on prometheus_client's default registry (once per process)."""
    REGISTRY.register(CallCacheCollector(series))
