"""The local store as a run and the CLI open it: entries, workspace and upkeep in one handle."""

from __future__ import annotations

from collections.abc import Iterable

from .upkeep import LocalUpkeep


class LocalStore(LocalUpkeep):
    """The embedded store: content and workspace in one diskcache (SQLite) under the cache dir.

    Safe to open from several processes at once. Implements `EntryStore` (`LocalEntries`) and
    `Workspace` (`LocalWorkspace`), with `LocalUpkeep`'s listings, gc and stats.
    """

    def record_run(
        self, pipeline: str, used: dict[str, str], hits: Iterable[str], misses: Iterable[str]
    ) -> None:
        """The run's one write (see `LocalWorkspace.record_run`), then eviction if the store
        went over its size budget. Only a run that wrote entries can have grown it: a cached
        re-run skips the two queries `volume` costs (a store others fill is checked by them)."""
        wrote = self._record_run(pipeline, used, hits, misses)
        if wrote and self._cache.volume() > self.size_limit:
            self.evict()
