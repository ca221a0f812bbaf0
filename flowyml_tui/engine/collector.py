"""Pausing the garbage collector around work that makes many objects and no cycle.

Such objects (a module's syntax tree, the dicts of decoded run records) are freed by their
reference counts; a collection run meanwhile frees none of them, yet scans them all and moves
the survivors towards the oldest generation, where they set off full collections later.
Pauses nest, across threads too: the collector is on again when the last one ends, and only
if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collection_paused"]


class _Pause:
    """How many pauses are held, and whether the collector was on before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.was_enabled = True


_PAUSE = _Pause()


@contextmanager
def collection_paused() -> Iterator[None]:
    """No collection runs inside (in any thread), until the last overlapping pause ends.

    Used where a worker thread decodes a big pipeline's run records (each collection it set
    off held the GIL, and the UI with it, for 250-580 ms: `tui/app.py`), and where a source
    file is parsed and summarised (`hashing/normalise.py`)."""
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
