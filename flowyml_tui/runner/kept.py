"""Which processes a `keep_children=True` step started: those a run leaves running.

Noted from the run's events: the descendants that appear between the step's start and its
finish, less the runner's own pool processes. It is by time, not by step: with several steps
running at once, what the others start meanwhile is kept too. Shared by the headless `run` and the
workbench's worker, which both end everything else their steps started.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..engine.events import Event, StepFinished, StepStarted
from .proctree import Proc, descendants


class KeptChildren:
    """An event sink: `kept.on_event` beside the run's others, then `kept.procs` to spare."""

    def __init__(self, keepers: Iterable[str]) -> None:
        self.keepers = frozenset(keepers)
        self.procs: set[Proc] = set()
        self._before: dict[str, set[Proc]] = {}

    def on_event(self, event: Event) -> None:
        if not self.keepers:
            return
        if isinstance(event, StepStarted) and event.step in self.keepers:
            self._before[event.step] = set(descendants(os.getpid()))
        elif isinstance(event, StepFinished) and event.step in self._before:
            before = self._before.pop(event.step)
            import multiprocessing  # only a run with such a step pays for it

            pool = {p.pid for p in multiprocessing.active_children()}  # the runner's own
            self.procs.update(
                proc
                for proc in descendants(os.getpid())
                if proc not in before and proc[0] not in pool
            )
