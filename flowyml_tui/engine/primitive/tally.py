"""Counters threads can bump, for the call cache's stats and metrics: counts without a lock,
money totals (a `cost_fn`'s) with one."""

from __future__ import annotations

import itertools
import threading


class Tally:
    """`add()` is `next()` on an itertools.count: one C call, atomic under the GIL."""

    __slots__ = ("_count", "add")

    def __init__(self) -> None:
        self._count = itertools.count(1)
        self.add = self._count.__next__

    @property
    def value(self) -> int:
        return int(repr(self._count)[6:-1]) - 1  # "count(N)": the next value it would give


class Sum:
    """A running total of money threads can add to; only caches given a `cost_fn` add."""

    __slots__ = ("_lock", "_total")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0.0

    def add(self, amount: float) -> None:
        with self._lock:  # a float += is not atomic; priced calls are rare next to hits
            self._total += amount

    @property
    def value(self) -> float:
        return self._total
