"""Which steps may start now: those whose upstream steps have all finished.

The driver takes ready steps in topological order (today one at a time, which is exactly
`graph.order`); a parallel driver takes every ready step at once. A step downstream of a
failed or skipped step still becomes ready, so the driver can report it skipped and why.
"""

from __future__ import annotations

import heapq

from ..graph import Graph
from ..step import Step


class Scheduler:
    """The ready set of one run over one graph; not reusable across runs."""

    __slots__ = ("_children", "_order", "_position", "_ready", "_upstream", "_waiting", "broken")

    def __init__(self, graph: Graph) -> None:
        shape = graph.memo.get("schedule")
        if shape is None:  # the same for every run of this graph
            position = {s.name: i for i, s in enumerate(graph.order)}
            waiting = {s.name: len(graph.upstream[s.name]) for s in graph.order}
            shape = graph.memo["schedule"] = (position, waiting)
        self._position, waiting = shape  # type: ignore[misc]
        self._waiting: dict[str, int] = dict(waiting)
        self._order = graph.order
        self._children = graph.downstream_of
        self._upstream = graph.upstream
        self._ready = [i for i, s in enumerate(graph.order) if not waiting[s.name]]
        heapq.heapify(self._ready)
        self.broken: set[str] = set()
        """Steps that failed or were skipped: their downstream is skipped."""

    def take(self, limit: int | None = None) -> list[Step]:
        """Up to `limit` ready steps (all of them by default), earliest in topological order
        first; they are started, so they are not handed out again."""
        ready, order = self._ready, self._order
        taken = []
        while ready and (limit is None or len(taken) < limit):
            taken.append(order[heapq.heappop(ready)])
        return taken

    def finish(self, name: str) -> None:
        """`name` is done (whatever its status): its children may become ready."""
        waiting, position, ready = self._waiting, self._position, self._ready
        for child in self._children[name]:
            left = waiting[child] - 1
            waiting[child] = left
            if not left:
                heapq.heappush(ready, position[child])

    def pending(self) -> bool:
        """Steps remain that have not been handed out (ready or waiting on upstream)."""
        return bool(self._ready) or any(self._waiting.values())

    def broken_upstream(self, step: Step) -> str | None:
        """The first of the step's upstream steps that failed or was skipped, if any."""
        broken = self.broken
        if not broken:
            return None
        for name in self._upstream[step.name]:
            if name in broken:
                return name
        return None
