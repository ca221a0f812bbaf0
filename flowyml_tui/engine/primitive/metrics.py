"""Prometheus metrics, only when `prometheus_client` is installed (the `[metrics]` extra).

A call pays plain integer counts, never a prometheus_client call: each cache name's counters
are Tallies, as `get_stats()`'s are, and its latency histogram is kept per thread, so no lock
is taken. One collector (scrape.py), registered once per process when the first cache is
created, turns them into the exported families when Prometheus scrapes. Nothing is imported
until then, and only if the package exists.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from bisect import bisect_left
from threading import get_ident

from .tally import Tally

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""The latency buckets' upper bounds (le), +Inf apart: prometheus_client's default buckets,
which the histogram has always exported."""
_FIRST = BOUNDS[0]
_SUM = len(BOUNDS) + 1
"""A shard is [count per bucket ..., count above the last bound, sum of seconds]."""


class Latency:
    """A histogram of call durations that a call fills without a lock.

    Each thread writes only its own shard (keyed by thread id; a thread that reuses a finished
    thread's id carries on its counts), and a scrape adds the shards up.
    """

    __slots__ = ("_shards",)

    def __init__(self) -> None:
        self._shards: dict[int, list[float]] = {}

    def observe(self, seconds: float) -> None:
        try:
            shard = self._shards[get_ident()]
        except KeyError:  # this thread's first call
            shard = self._shards[get_ident()] = [0] * _SUM + [0.0]
        # Nearly every call, hits above all, lands in the first bucket (<= 5 ms): no search.
        shard[0 if seconds <= _FIRST else bisect_left(BOUNDS, seconds)] += 1
        shard[_SUM] += seconds

    def totals(self) -> tuple[list[int], float]:
        """The count in each bucket (not cumulative; the last is above every bound) and the
        sum of seconds, over every thread's shard."""
        counts = [0] * _SUM
        seconds = 0.0
        for shard in list(self._shards.values()):  # list(): threads may add shards meanwhile
            for index in range(_SUM):
                counts[index] += int(shard[index])
            seconds += shard[_SUM]
        return counts, seconds


class Series:
    """One cache name's counters: every CachePrimitive of that name adds to them."""

    __slots__ = ("add_hit", "counts", "created", "latency", "observe")

    def __init__(self) -> None:
        self.counts = {"hits": Tally(), "misses": Tally(), "expirations": Tally()}
        self.latency = Latency()
        self.created = time.time()
        """Exported as `_created`: when the first cache of this name was made."""
        self.add_hit = self.counts["hits"].add  # bound once: the hit path's one extra call
        self.observe = self.latency.observe


_lock = threading.Lock()
_series: dict[str, Series] | None = None
_absent = False


def _registry() -> dict[str, Series] | None:
    """Every name's series, once the collector is registered; None without prometheus_client."""
    global _series, _absent
    if _series is not None or _absent:
        return _series
    with _lock:
        if _series is None and not _absent:
            try:
                present = importlib.util.find_spec("prometheus_client") is not None
            except ValueError:  # sys.modules["prometheus_client"] is None: blocked on purpose
                present = False
            if not present:
                _absent = True
                return None
            from .scrape import register

            series: dict[str, Series] = {}
            register(series)
            _series = series
    return _series


def metrics_for(name: str, enabled: bool | None) -> Series | None:
    """The series of a cache named `name`; `enabled=None` means "if prometheus_client is there"."""
    if enabled is False:
        return None
    registry = _registry()
    if registry is None:
        if enabled:
            raise ImportError(
                "metrics=True needs prometheus_client: pip install 'flowyml-tui[metrics]'"
            )
        return None
    series = registry.get(name)
    if series is None:
        with _lock:
            series = registry.setdefault(name, Series())
    return series
