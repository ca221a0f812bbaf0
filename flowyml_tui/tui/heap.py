"""Short pauses beside a big table: a 10,000-step table's rows and cells are ~500,000 objects,
and a full collection that scans them stalls the UI for 100-330 ms, several times a run. They
live until the next build (or until a run rewrites their cells), so they are frozen out of
collection (`gc.freeze`) once built, when a run starts (its new rows live as long as it)
and once a run has rewritten them: only what a run allocates meanwhile is scanned. They are
thawed before the next build, so that whatever of them forms a cycle can still be collected;
cells a run replaces are freed by their reference counts."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

FREEZE_FROM_ROWS = 1000
"""Below this a full collection is a few milliseconds: nothing is frozen."""


def build_frozen(rows: int, build: Callable[[], None]) -> None:
    """Run `build` (a table build of `rows` rows); afterwards, everything alive is frozen."""
    if gc.get_freeze_count():
        gc.unfreeze()
    built_whole(rows, build)


def built_whole(rows: int, build: Callable[[], None]) -> None:
    """Run `build`, which makes `rows` rows' worth of objects that live on, with no collection,
    and freeze what is alive afterwards (as `settle` does). Each collection it set off scanned
    everything built so far: full scans of 100-270 ms in a 10,000-row table build, up to
    100 ms in the 10,000 new rows of a run's start, and, had collection merely been paused, a
    first collection afterwards over all of it (~50 ms)."""
    if rows < FREEZE_FROM_ROWS:
        build()
        return
    with collection_paused():
        build()
        gc.freeze()


def settle(rows: int) -> None:
    """A run over a table of `rows` rows started or ended: what is alive now lives on."""
    if rows >= FREEZE_FROM_ROWS:
        gc.freeze()


class _Pause:
    """Collections off while any worker thread decodes run records (see `collection_paused`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.was_enabled = True


_PAUSE = _Pause()


@contextmanager
def collection_paused() -> Iterator[None]:
    """While a worker thread decodes the run records of a big pipeline (hundreds of thousands
    of dicts, none in a cycle, all freed by their reference counts afterwards), no collection
    runs: each one it set off held the GIL, and the UI with it, for 250-580 ms."""
    with _PAUSE.lock:
        if _PAUSE.holders == 0:
            _PAUSE.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSE.holders += 1
    try:
        yield
    finally:
        with _PAUSE.lock:
            _PAUSE.holders -= 1
            if _PAUSE.holders == 0 and _PAUSE.was_enabled:
                gc.enable()
