"""Short pauses beside a big table: a 10,000-step table's rows and cells are ~500,000 objects,
and a full collection that scans them stalls the UI for 100-330 ms, several times a run. They
live until the next build (or until a run rewrites their cells), so they are frozen out of
collection (`gc.freeze`) once built, when a run starts (its new rows live as long as it)
and once a run has rewritten them: only what a run allocates meanwhile is scanned. They are
thawed before the next build, so that whatever of them forms a cycle can still be collected;
cells a run replaces are freed by their reference counts."""

from __future__ import annotations

import gc
from collections.abc import Callable

from flowyml_tui.engine.collector import collection_paused

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
