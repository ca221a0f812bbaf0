"""One cache name's metric counts, as a call fills them (lock-free) and a scrape reads them:
shared by `metrics` (which makes them) and `scrape` (which exports them)."""

from __future__ import annotations

import time
from bisect import bisect_left
from threading import get_ident

from .tally import Sum, Tally

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

    __slots__ = ("add_hit", "counts", "created", "latency", "money", "observe")

    def __init__(self) -> None:
        self.counts = {"hits": Tally(), "misses": Tally(), "expirations": Tally()}
        self.money = {"saved_cost": Sum(), "spent_cost": Sum()}
        """What hits avoided and misses spent, by the caches' `cost_fn` (0 without one)."""
        self.latency = Latency()
        self.created = time.time()
        """Exported as `_created`: when the first cache of this name was made."""
        self.add_hit = self.counts["hits"].add  # bound once: the hit path's one extra call
        self.observe = self.latency.observe
