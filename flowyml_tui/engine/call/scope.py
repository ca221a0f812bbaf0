"""The step a call cache is used in: where its entries persist, and whose counters it bumps.

The runner opens a `CallScope` around each step's call (in the driver, a worker process or a
Dask worker alike) through a `ContextVar`, so a CachePrimitive made at a pipeline file's top
level finds the running step's cache dir and tallies its hits, misses and time saved for that
step's `StepFinished`. Async tasks inherit the scope; a thread pool's threads see it only when
submitted through `contextvars.copy_context().run`, like captured output.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

CALLS_DIRNAME = "calls"


class CallScope:
    """One step's call-cache use, per primitive name: hits, misses, seconds saved, and the
    disk slots its entries are in (so the TUI can clear them)."""

    __slots__ = ("directory", "lock", "tallies")

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.tallies: dict[str, list[Any]] = {}
        self.lock = threading.Lock()

    def add(self, primitive: Any, hit: bool, saved: float, money: float = 0.0) -> None:
        """Count one call; `money` is its `cost_fn` price: avoided on a hit, spent on a miss."""
        name = primitive.name
        with self.lock:
            tally = self.tallies.get(name)
            if tally is None:
                tally = self.tallies[name] = [0, 0, 0.0, primitive.places(), 0.0, 0.0]
            if hit:
                tally[0] += 1
                tally[2] += saved
                tally[4] += money
            else:
                tally[1] += 1
                tally[5] += money

    def summary(self) -> tuple[tuple[Any, ...], ...]:
        """(name, hits, misses, seconds saved, slots, cost saved, cost spent) per primitive, by
        name: what travels, in CallStats' field order."""
        with self.lock:
            return tuple((name, *tally) for name, tally in sorted(self.tallies.items()))


_current: ContextVar[CallScope | None] = ContextVar("flowyml_tui_call_scope", default=None)


current_scope = _current.get
"""The running step's scope, or None outside a step (a bound C method: on every hit path)."""


def calls_dir(cache_dir: str | Path) -> Path:
    """Where a pipeline's call caches persist: `<cache_dir>/calls`."""
    return Path(cache_dir) / CALLS_DIRNAME


def current_directory() -> Path | None:
    """Where the running step's call caches persist (`<cache_dir>/calls`), if a step runs."""
    scope = _current.get(None)
    return None if scope is None else scope.directory


@functools.lru_cache(maxsize=16)
def _as_path(directory: str | Path) -> Path:
    """A run's calls dir, parsed once rather than once a step."""
    return Path(directory)


@contextmanager
def step_scope(directory: str | Path | None) -> Iterator[CallScope]:
    """Make the calls in this block count for one step, persisting under `directory`."""
    scope = CallScope(_as_path(directory) if directory is not None else None)
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)
