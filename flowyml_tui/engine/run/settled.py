"""The objects alive before a big run are left out of the collections the run sets off.

A 10,000-step pipeline is a few hundred thousand objects (its functions, steps, graph and
plans) that live as long as the process. Each full collection a run sets off scanned all of
them again: two of 190-270 ms each in a cold 10,000-step run (none in a 1,000-step one), so the
run's time grew faster than its size (`benchmarks/bench_scale.py`); a replay (`memo.py`)
pauses the collector, and the collection that defers, run as the replay ended, was 36 ms of
a 66 ms 10,000-step replay. For the length of a run, a replay's too, they are frozen
(`gc.freeze`): the collector still runs and still frees every cycle the run's
steps make; it only stops re-scanning what existed before the run began. They are thawed when
the last such run ends, so a cycle among them is still collected at the next full collection.

Left alone when anything else in the process froze objects (the TUI's table rows, a server
that froze before forking): thawing then would undo someone else's freeze.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FREEZE_FROM_STEPS = 1000
"""Below this a full collection over the pipeline is a few milliseconds: nothing is frozen."""


class _Frozen:
    """How many runs in this process hold the freeze, and whether it was theirs to take."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.ours = False


_FROZEN = _Frozen()


@contextmanager
def settled_heap(steps: int) -> Iterator[None]:
    """While a run of `steps` steps executes, what was alive before it is not scanned."""
    if steps < FREEZE_FROM_STEPS:
        yield
        return
    with _FROZEN.lock:
        if _FROZEN.holders == 0:
            _FROZEN.ours = gc.get_freeze_count() == 0
        if _FROZEN.ours:
            gc.freeze()  # also what a run that started meanwhile made: it lives as long
        _FROZEN.holders += 1
    try:
        yield
    finally:
        with _FROZEN.lock:
            _FROZEN.holders -= 1
            if _FROZEN.holders == 0 and _FROZEN.ours:
                gc.unfreeze()
                _FROZEN.ours = False


def settle_what_exists() -> None:
    """Leave out of collection, too, what the run made so far, while a big run holds a
    freeze of its own; thawed with the rest when it ends.

    A replay calls it before it lets the collector run again: what the replay made (each
    step's result and event) holds no cycle, so the collection its pause deferred would
    free nothing, yet scanned it all (30,000 young objects in a 10,000-step replay: 10 to
    18 ms, against 0.3 ms at 1,000 steps, `bench_scale.py`).
    """
    with _FROZEN.lock:
        if _FROZEN.holders and _FROZEN.ours:
            gc.freeze()
