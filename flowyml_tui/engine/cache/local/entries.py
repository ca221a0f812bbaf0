"""The content half of the local store (`EntryStore`): entries and their values, written
all or nothing and verified before anything is unpickled."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

from ...errors import CacheError, CacheFullError
from .. import files
from ..entry import Entry, encode_entry
from ..multiget import get_many
from ..protocols import CorruptEntry
from ..values import checksum, unpickle_verified
from .database import (
    LocalDatabase,
    heals_damage,
    versions_key,
)


class LocalEntries(LocalDatabase):
    """Entries, values and sources: shareable, immutable once written."""

    @heals_damage
    def prefetch(self, pipeline: str, steps: Iterable[str]) -> int:
        """Read the entries the pipeline's last run used, in one query, into memory.

        A fresh process (every TUI run is one) would otherwise pay one SQLite query per
        step; a store that already holds entries in memory has them. Returns how many were
        read. Only an optimisation: `get_entry` reads whatever this leaves out.
        """
        if self._l1:
            return 0
        current = self.current(pipeline)
        keys = [current[step] for step in steps if step in current]
        if len(keys) < 2:
            return 0
        rows = get_many(self._cache, ["e:" + key for key in keys])
        read = 0
        for name, raw in rows.items():
            read += self._read_entry(name[2:], raw) is not None
        return read

    @heals_damage
    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        """The newest readable entry of one step of one pipeline."""
        for key in reversed(self._versions(pipeline, step)):
            entry = self.get_entry(key)
            if entry is not None:
                return entry
        return None

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        """Write the values, their sources and the metadata of one entry, all or nothing."""
        key, step, pipeline = meta.key, meta.step, meta.pipeline
        cache = self._cache
        if self._full:
            raise CacheFullError(f"not cached: the disk holding {self.path} is full (see above)")
        try:
            self._mark.hold()
            with cache.transact():
                for fn_hash, text in sources.items():  # a source kept once, by its hash
                    self._add_row("s:" + fn_hash, text, replace=False)
                for index, blob in enumerate(blobs):
                    self._add_row(f"v:{key}:{index}", blob)
                self._add_row("e:" + key, encode_entry(meta))
                scope = versions_key(pipeline, step)
                if scope != self._no_versions or not self._add_row(
                    scope, json.dumps([key]), replace=False
                ):  # not a new step's first entry (or another writer's came first): merged
                    self._add_version(scope, pipeline, step, key)
        except Exception as exc:
            self._after_failed_write(exc)
            raise
        self._remember(meta)
        self._no_versions = None
        self.unreadable.discard(key)

    def _add_version(self, scope: str, pipeline: str, step: str, key: str) -> None:
        """Append `key` to the step's version list read inside the write's transaction."""
        known = self._versions(pipeline, step)
        versions = [k for k in known if k != key]
        versions.append(key)
        text = json.dumps(versions)
        if known:  # the step's list, rewritten in place
            self._set_text(scope, text)
        else:
            self._add_row(scope, text)

    def batch(self) -> Any:
        """One transaction around many writes (a shared tier backfilling a whole DAG's entries
        pays one SQLite commit instead of one per entry)."""
        return self._cache.transact()

    def put_value(self, entry: Entry, index: int, blob: bytes) -> None:
        """Add one value to an entry already here (a shared tier backfills values on first load)."""
        if self._full:
            raise CacheFullError(f"not cached: the disk holding {self.path} is full (see above)")
        try:
            self._mark.hold()
            self._cache.set(f"v:{entry.key}:{index}", blob)
        except Exception as exc:
            self._after_failed_write(exc)
            raise

    def _after_failed_write(self, exc: Exception) -> None:
        """The transaction rolled back, but the value files it wrote stay: remove them (a
        partial file would fill the disk), and after ENOSPC stop writing for this run."""
        with contextlib.suppress(Exception):
            self._collect()
        if files.is_disk_full(exc, self.path) and not self._full:
            self._full = True
            raise CacheError(
                f"the disk holding the cache at {self.path} is full ({exc}): this run goes on "
                "without caching; free space or run `flowyml-tui cache gc`"
            ) from exc

    def load_blob(self, entry: Entry, index: int) -> bytes:
        """Output `index`'s pickle bytes, checked against the entry; else CorruptEntry."""
        key = entry.key
        blob = self._cache.get(f"v:{key}:{index}")
        if not isinstance(blob, bytes):
            raise CorruptEntry(f"output {index} of entry {key} is missing")
        if len(blob) != entry.sizes[index] or checksum(blob) != entry.checksums[index]:
            raise CorruptEntry(f"output {index} of entry {key} fails its checksum (truncated?)")
        return blob

    def load_value(self, entry: Entry, index: int) -> Any:
        """Load output `index` of an entry, checking its bytes before anything is unpickled."""
        return unpickle_verified(self.load_blob(entry, index), entry.key, index)

    layered = False
    """Every hit is this process's own store's: nothing for `tier_of` to name."""

    def tier_of(self, key: str | None) -> str | None:
        return None

    def writer_of(self, key: str | None) -> str | None:
        return None

    @heals_damage
    def source(self, fn_hash: str) -> str | None:
        text = self._cache.get("s:" + fn_hash)
        return text if isinstance(text, str) else None

    @heals_damage
    def delete_entry(self, key: str) -> None:
        entry = self.get_entry(key)
        self._mark.hold()
        with self._cache.transact():
            count = len(entry.sizes) if entry else 0
            for index in range(count):
                self._cache.delete(f"v:{key}:{index}")
            self._cache.delete("e:" + key)
            if entry:
                scope = versions_key(entry.pipeline, entry.step)
                versions = [k for k in self._versions(entry.pipeline, entry.step) if k != key]
                if versions:
                    self._cache.set(scope, json.dumps(versions))
                else:
                    self._cache.delete(scope)
            self._deleted()
