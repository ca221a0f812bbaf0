"""A counter threads can bump without a lock, for the call cache's stats and metrics."""

from __future__ import annotations

import itertools


class Tally:
    """`add()` is `next()` on an itertools.count: one C call, atomic under the GIL."""

    __slots__ = ("_count", "add")

    def __init__(self) -> None:
        self._count = itertools.count(1)
        self.add = self._count.__next__

    @property
    def value(self) -> int:
        return int(repr(self._count)[6:-1]) - 1  # "count(N)": the next value it would give
