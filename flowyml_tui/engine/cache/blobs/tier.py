"""`BucketTier`: the shared tier a bucket (or a shared folder) makes on its own.

Entries are signed records in the bucket (`BucketIndex`), every value a content-addressed
blob (`BlobStore`): two machines that share only a bucket share every result. It offers what
`TieredStore` asks of a shared tier (`SharedTier`), so reading through, backfilling, lazy value
loads and catching up work as they do with Redis. Every failure of the backend is a miss: the
breaker keeps the run local and the run is told once.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from .. import notices as kinds
from ..entry import Entry
from ..notices import Notices
from ..protocols import CorruptEntry, SharedTierDown
from ..signed import Refused
from ..values import unpickle_verified
from .index import BucketIndex, IndexRecord, digests_in_bucket, make_record
from .store import BlobCorrupt
from .values import BlobValues

log = logging.getLogger(__name__)


class BucketTier:
    """An `EntryStore`-like shared tier: records and blobs in one fsspec location."""

    max_value = sys.maxsize
    """No value is too big for a bucket."""

    def __init__(self, index: BucketIndex, values: BlobValues, *, project: str) -> None:
        self.index, self.values, self.project = index, values, project
        self.blob_values: BlobValues | None = values
        self.url = values.url
        self.path = Path(values.store.root)
        self.breaker = values.store.breaker
        self.notices: Notices = self.breaker.notices
        self.unreadable: set[str] = set()
        self._records: dict[str, IndexRecord] = {}
        self._absent: set[str] = set()
        """Keys asked for and not there, or refused: not asked again this run."""
        self.counts = {"hits": 0, "misses": 0, "refused": 0}

    def __repr__(self) -> str:
        return f"BucketTier({self.url!r}, project={self.project!r})"

    @property
    def online(self) -> bool:
        return self.breaker.online

    def takes(self, sizes: Iterable[int]) -> bool:
        return True

    def refresh(self) -> None:
        self._records.clear()
        self._absent.clear()

    def _refuse(self, why: str) -> None:
        self.counts["refused"] += 1
        message = f"refused a blob-store item: {why}; treated as a miss"
        self.notices.add(kinds.REFUSED, message)
        log.warning(message)
        warnings.warn(message, stacklevel=4)

    def _read(self, keys: Iterable[str]) -> None:
        """Fetch and verify the records of `keys` not known yet, in one batch."""
        known = self._records.keys() | self._absent
        wanted = [key for key in dict.fromkeys(keys) if key not in known]
        if not wanted:
            return
        raws = self.index.get(wanted)
        for key in wanted:
            raw = raws.get(key)
            if raw is None:
                self._absent.add(key)
                continue
            try:
                self._records[key] = self.index.verify(key, raw)
            except Refused as why:
                self._absent.add(key)
                self._refuse(f"the entry {key} is {why}")
            except msgspec.DecodeError:
                self._absent.add(key)
                self.unreadable.add(key)

    def get_entry(self, key: str) -> Entry | None:
        self._read([key])
        record = self._records.get(key)
        self.counts["hits" if record else "misses"] += 1
        return record.entry if record else None

    def prefetch(self, pipeline: str, steps: Iterable[str]) -> int:
        return len(self.fetch_newest(pipeline, steps))

    def fetch_newest(self, pipeline: str, steps: Iterable[str]) -> dict[str, Entry]:
        """The newest entries of these steps: one listing, then one concurrent batch of reads."""
        keys = self.index.newest(pipeline, steps)
        self._read(keys)
        return {k: self._records[k].entry for k in keys if k in self._records}

    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        keys = self.index.newest(pipeline, [step])
        self._read(keys)
        for key in reversed(keys):
            if key in self._records:
                return self._records[key].entry
        return None

    layered = True
    """Every entry it serves comes from the team's bucket, not this process's own store."""
    generation = None
    """Others delete from the bucket without telling: nothing holds across runs."""

    def tier_of(self, key: str | None) -> str | None:
        return "shared" if key is not None and key in self._records else None

    def writer_of(self, key: str | None) -> str | None:
        record = self._records.get(key) if key is not None else None
        return f"{record.user}@{record.host}" if record else None

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        self.put_entries([(meta, blobs, sources)])

    def put_entries(self, items: list[tuple[Entry, list[bytes], dict[str, str]]]) -> None:
        """Each entry's blobs, then its record: a record never names a blob not yet there."""
        for meta, blobs, sources in items:
            digests = [self.values.put(blob) for blob in blobs]
            record = make_record(meta, digests, sources)
            self.index.put(record)
            self._records[meta.key] = record
            self._absent.discard(meta.key)

    def lacking(self, keys: list[str]) -> list[str]:
        """The keys with no record in the bucket: one listing of the project's records."""
        held = set(self.index.keys())
        return [key for key in keys if key not in held]

    def load_blob(self, entry: Entry, index: int) -> bytes:
        """Output `index`'s bytes, its record and then the blob verified; else CorruptEntry."""
        self._records.pop(entry.key, None)
        self._absent.discard(entry.key)
        self._read([entry.key])
        record = self._records.get(entry.key)
        if record is None or record.entry != entry:
            raise CorruptEntry(f"entry {entry.key} is gone from the blob store or was changed")
        try:
            return self.values.get(record.sha256[index], entry.sizes[index])
        except BlobCorrupt as problem:
            self._refuse(f"output {index} of entry {entry.key}: {problem}")
            raise

    def load_value(self, entry: Entry, index: int) -> Any:
        return unpickle_verified(self.load_blob(entry, index), entry.key, index)

    def delete_entry(self, key: str) -> None:
        self._read([key])
        record = self._records.pop(key, None)
        if record is not None:
            self.index.delete(record.entry)

    def source(self, fn_hash: str) -> str | None:
        for record in self._records.values():
            if fn_hash in record.sources:
                return record.sources[fn_hash]
        return None

    def clear_step(self, pipeline: str, step: str) -> int:
        keys = self.index.newest(pipeline, [step], versions=None)
        self._read(keys)
        removed = 0
        for key in keys:
            record = self._records.pop(key, None)
            if record is not None:
                self.index.delete(record.entry)
                removed += 1
        return removed

    def clear(self) -> int:
        """Delete this project's records (blobs go with `cache gc --blobs`)."""
        self._records.clear()
        return self.index.clear()

    def referenced_digests(self) -> set[str]:
        """Every blob any project's record in the bucket names (what `gc --blobs` keeps)."""
        store = self.values.store
        return digests_in_bucket(store.fs, store.root, self.breaker)

    def stats(self) -> dict[str, Any]:
        """Records and blobs in the bucket, and this process's hits, misses and refusals."""
        row: dict[str, Any] = {"url": self.url, "project": self.project, **self.counts}
        row["not_shared"] = []
        try:
            row["entries"] = len(self.index.keys())
        except SharedTierDown:
            row.update(entries=None, bytes=None, online=False)
            return row
        row["blob_store"] = self.values.store.summary()
        row["bytes"] = row["blob_store"]["bytes"]
        row["online"] = row["blob_store"]["online"]
        return row
