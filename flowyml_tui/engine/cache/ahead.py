"""A local store opened before a run asks for it: a spare worker opens the last run's cache
while it waits, so the run that a save starts does not pay for opening it (SQLite, diskcache's
set-up, the checkpoint when its set-up connection closes: 10 ms on a quiet machine, 35 ms at
load, all before the first step).

The handle is the one a fresh open would give: nothing has been read through it yet, and the
run refreshes it as it refreshes any store it reuses. It is only handed over while the
database file on disk is still the one it opened (a cache dir removed or cleared by file
in between gets a fresh open).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..errors import CacheError
from .facade import CacheStore
from .location import store_path

_DATABASE = Path("store") / "cache.db"
"""diskcache's database file inside a cache dir."""

_opened: dict[Path, tuple[CacheStore, tuple[int, int] | None]] = {}


def open_ahead(spec: str | os.PathLike[str]) -> CacheStore | None:
    """Open the local store at `spec` for a later `take_opened`; None if it cannot be opened
    (a refused dir, say): the run opens it then, and says why."""
    path = store_path(spec)
    if path in _opened:
        return _opened[path][0]
    try:
        store = CacheStore(path)
    except (CacheError, OSError):
        return None
    _opened[path] = (store, _identity(path))
    return store


def take_opened(path: Path) -> CacheStore | None:
    """The store opened ahead at `path`, if its database is still the file it opened; stores
    opened ahead elsewhere are closed (the run uses another cache dir)."""
    store = None
    for where, (opened, identity) in list(_opened.items()):
        del _opened[where]
        if where == path and identity is not None and identity == _identity(path):
            store = opened
        else:
            with contextlib.suppress(Exception):
                opened.close()
    return store


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path / _DATABASE)
    except OSError:
        return None
    return info.st_dev, info.st_ino
