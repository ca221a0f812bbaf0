"""Short pauses beside a big table: a 10,000-step table's rows and cells are ~500,000 objects,
and a full collection that scans them stalls the UI for 100-330 ms, several times a run. They
live until the next build (or until a run rewrites their cells), so they are frozen out of
collection (`gc.freeze`) once built and again once a run has rewritten them: only what a run
allocates is scanned. They are thawed before the next build, so that whatever of them forms a
cycle can still be collected; cells a run replaces are freed by their reference counts."""

from __future__ import annotations

import gc
from collections.abc import Callable

FREEZE_FROM_ROWS = 1000
"""Below this a full collection is a few milliseconds: nothing is frozen."""


def build_frozen(rows: int, build: Callable[[], None]) -> None:
    """Run `build` (a table build of `rows` rows); afterwards, everything alive is frozen."""
    if gc.get_freeze_count():
        gc.unfreeze()
    build()
    settle(rows)


def settle(rows: int) -> None:
    """A run over a table of `rows` rows ended: what is alive now lives on, freeze it."""
    if rows >= FREEZE_FROM_ROWS:
        gc.freeze()
