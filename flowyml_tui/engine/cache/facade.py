"""`CacheStore`: the flowyml-style name users construct by path."""

from __future__ import annotations

import os

from .local import DEFAULT_CACHE_DIR, DEFAULT_SIZE_LIMIT, LocalStore
from .location import store_path


class CacheStore(LocalStore):
    """flowyml's `CacheStore(cache_dir)`: `clear()`, `clear_step()`, `stats()`, `entries()`,
    `pin()`... over the local store (a shared tier will sit behind the same facade)."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        *,
        size_limit: int = DEFAULT_SIZE_LIMIT,
    ) -> None:
        super().__init__(store_path(cache_dir), size_limit=size_limit)
