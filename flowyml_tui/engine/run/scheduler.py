"""Which steps may start now: those whose upstream steps have all finished.

A driver that runs several steps at once takes every ready step (`take`) and reports each one
done (`finish`); one that runs a step at a time walks `one_at_a_time()`, which is `graph.order`
exactly. A step downstream of a failed or skipped step still becomes ready, so the driver can
report it skipped and why (`broken_upstream`).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator

from ..define.graph import Graph
from ..step import Step


class Scheduler:
    """The ready set of one run over one graph; not reusable across runs."""

    __slots__ = ("_graph", "_ready", "_waiting", "broken")

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._waiting: dict[str, int] | None = None
        """step -> how many of its upstream steps have not finished; built on first `take`"""
        self._ready: list[int] = []
        """positions in `graph.order` of the steps ready and not yet taken (a heap)"""
        self.broken: set[str] = set()
        """Steps that failed or were skipped: their downstream is skipped."""

    @property
    def started(self) -> bool:
        """Whether the ready set was ever built: a run that only hits never builds it."""
        return self._waiting is not None

    def start(self, done: Collection[str] = ()) -> None:
        """Begin with the steps in `done` already finished (decided before any scheduling,
        e.g. cache hits): only the rest are counted and handed out. Call before `take`."""
        graph = self._graph
        if not done:
            self._start()
            return
        upstream = graph.upstream
        counts = {}
        ready = []
        for i, s in enumerate(graph.order):
            name = s.name
            if name in done:
                continue
            left = sum(1 for u in upstream[name] if u not in done)
            counts[name] = left
            if not left:
                ready.append(i)
        self._waiting = counts
        self._ready = ready  # ascending positions: already a heap

    def take(self, limit: int | None = None) -> list[Step]:
        """Up to `limit` ready steps (all of them by default), earliest in topological order
        first; they are started, so they are not handed out again."""
        if self._waiting is None:
            self._start()
        ready, order = self._ready, self._graph.order
        taken = []
        while ready and (limit is None or len(taken) < limit):
            taken.append(order[heapq.heappop(ready)])
        return taken

    def finish(self, name: str) -> None:
        """`name` is done (whatever its status): its children may become ready."""
        if self._waiting is None:
            self._start()
        waiting, ready = self._waiting, self._ready
        assert waiting is not None
        position = self._positions()
        for child in self._graph.downstream_of[name]:
            left = waiting[child] - 1
            waiting[child] = left
            if not left:
                heapq.heappush(ready, position[child])

    def pending(self) -> bool:
        """Steps remain that have not been handed out (ready or waiting on upstream)."""
        if self._waiting is None:
            return bool(self._graph.order)
        return bool(self._ready) or any(self._waiting.values())

    def one_at_a_time(self) -> Iterator[Step]:
        """Every step, each to be finished before the next is asked for: `graph.order`.

        A topological order is a sequence of ready steps when one runs at a time, so this
        keeps no counts: it costs nothing per step of a cached run. Use it or `take`, not both.
        """
        return iter(self._graph.order)

    def broken_upstream(self, step: Step) -> str | None:
        """The first of the step's upstream steps that failed or was skipped, if any."""
        broken = self.broken
        if not broken:
            return None
        for name in self._graph.upstream[step.name]:
            if name in broken:
                return name
        return None

    def _start(self) -> None:
        graph = self._graph
        counts = {s.name: len(graph.upstream[s.name]) for s in graph.order}
        self._waiting = counts
        self._ready = [i for i, s in enumerate(graph.order) if not counts[s.name]]

    def _positions(self) -> dict[str, int]:
        found = self._graph.memo.get("step-positions")
        if found is None:  # the same for every run of this graph
            found = self._graph.memo["step-positions"] = {
                s.name: i for i, s in enumerate(self._graph.order)
            }
        return found  # type: ignore[return-value]
