"""TieredStore: memory -> local diskcache -> a shared tier, read-through and write-through.

The local store (its in-process L1 is the memory tier) answers first; a miss there asks the
shared tier, and an entry found there is written to the local store at once, its values when
first loaded. New entries go to both, and at a run's end the shared tier catches up on the
local hits it lacks (written while it was down). A shared-tier error is logged and the run
goes on locally. The workspace (pins, marks, counters, records) is the local store's alone.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .entry import Entry
from .local import LocalStore
from .notices import Notices
from .protocols import CorruptEntry, EntryInfo, RunStart, SharedTier, SharedTierDown, Upload
from .tables import CacheVerdicts

log = logging.getLogger(__name__)

UPLOAD_BATCH = 64 * 2**20
"""Bytes of values per catch-up upload: after a long outage, several round trips, each bounded."""


class TieredStore:
    """A `Store`: the local store's workspace and content, backed by a `SharedTier` (Redis,
    Redis with a blob store, or a blob store alone)."""

    def __init__(self, local: LocalStore, shared: SharedTier) -> None:
        self.local, self.shared = local, shared
        self.path = local.path
        self._from_shared: dict[str, str | None] = {}
        """Key -> `user@host` of each entry this process got from the shared tier."""
        self._in_shared: set[str] = set()
        """Keys this process has seen the shared tier hold: not asked about again."""

    def __repr__(self) -> str:
        return f"TieredStore({self.local!r}, {self.shared!r})"

    @property
    def notices(self) -> Notices:
        """The shared tier's notices, for the run's event stream."""
        return self.shared.notices

    @property
    def unreadable(self) -> set[str]:
        return self.local.unreadable

    def _try(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except SharedTierDown:
            return None
        except Exception as exc:  # a tier error never fails the run
            log.warning("shared cache: %s failed (%s: %s)", what, type(exc).__name__, exc)
            return None

    def refresh(self) -> None:
        self.local.refresh()
        self.shared.refresh()

    def begin_run(self, pipeline: str) -> RunStart:
        start = self.local.begin_run(pipeline)
        self.shared.refresh()
        return start

    layered = True
    """Hits can come from the shared tier: `tier_of`/`writer_of` name it."""
    generation = None
    """The shared tier loses entries without telling (TTLs): nothing holds across runs."""

    # -- the workspace and listings: the local store's alone ---------------------------------

    def close(self) -> None:
        self.local.close()

    def scopes(self) -> list[tuple[str, str]]:
        return self.local.scopes()

    def resolve(self, step: str, pipeline: str | None = None) -> str:
        return self.local.resolve(step, pipeline)

    def pins(self, pipeline: str | None = None) -> dict[str, str]:
        return self.local.pins(pipeline)

    def pin(self, step: str, key: str | None = None, *, pipeline: str | None = None) -> str:
        return self.local.pin(step, key, pipeline=pipeline)

    def unpin(self, step: str, *, pipeline: str | None = None) -> bool:
        return self.local.unpin(step, pipeline=pipeline)

    def invalidate(self, steps: Iterable[str], *, pipeline: str | None = None) -> None:
        self.local.invalidate(steps, pipeline=pipeline)

    def invalidations(self, pipeline: str) -> dict[str, int]:
        return self.local.invalidations(pipeline)

    def current(self, pipeline: str) -> dict[str, str]:
        return self.local.current(pipeline)

    def versions(self, step: str, *, pipeline: str | None = None) -> list[str]:
        return self.local.versions(step, pipeline=pipeline)

    def cache_costs(self, pipeline: str) -> dict[str, dict[str, float]]:
        return self.local.cache_costs(pipeline)

    def cache_verdicts(self, pipeline: str) -> CacheVerdicts:
        return self.local.cache_verdicts(pipeline)

    def record_cache_costs(
        self,
        pipeline: str,
        figures: dict[str, dict[str, float]],
        verdicts: CacheVerdicts | None,
    ) -> None:
        self.local.record_cache_costs(pipeline, figures, verdicts)

    def last_used(self) -> dict[str, float]:
        return self.local.last_used()

    def evict(self, size_limit: int | None = None) -> list[str]:
        return self.local.evict(size_limit)

    def steps(self) -> list[str]:
        return self.local.steps()

    def pipelines(self) -> list[str]:
        return self.local.pipelines()

    def entries(self, step: str | None = None, *, pipeline: str | None = None) -> list[EntryInfo]:
        return self.local.entries(step, pipeline=pipeline)

    def clear(self) -> None:
        self.local.clear()

    def gc(self) -> dict[str, int]:
        return self.local.gc()

    def disk_usage(self) -> dict[str, int]:
        return self.local.disk_usage()

    def tier_of(self, key: str | None) -> str | None:
        """ "shared" if this process got the entry from the shared tier, else None."""
        return "shared" if key in self._from_shared else None

    def writer_of(self, key: str | None) -> str | None:
        """`user@host` who wrote an entry this process got from the shared tier, else None."""
        return self._from_shared.get(key) if key else None

    def _backfill(self, entry: Entry) -> Entry:
        self.local.put_entry(entry, [], {})  # the entry now; its values when first loaded
        self._from_shared[entry.key] = self.shared.writer_of(entry.key)
        return entry

    def get_entry(self, key: str) -> Entry | None:
        entry = self.local.get_entry(key)
        if entry is not None:
            return entry
        found = self._try("get", self.shared.get_entry, key)
        return self._backfill(found) if found is not None else None

    def prefetch(self, pipeline: str, steps: Iterable[str]) -> int:
        """Fetch the newest shared entries of steps the local store lacks (<= 2 round trips)."""
        steps = list(steps)
        self.local.prefetch(pipeline, steps)
        current = self.local.current(pipeline)
        missing = [s for s in steps if self.local.get_entry(current.get(s, "")) is None]
        if not missing:
            return 0
        found = self._try("prefetch", self.shared.fetch_newest, pipeline, missing) or {}
        with self.local.batch():
            for entry in found.values():
                if self.local.get_entry(entry.key) is None:
                    self._backfill(entry)
        return len(found)

    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        entry = self.local.newest_entry(pipeline, step)
        if entry is not None:
            return entry
        found = self._try("newest", self.shared.newest_entry, pipeline, step)
        return self._backfill(found) if found is not None else None

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        self.local.put_entry(meta, blobs, sources)
        self._try("put", self.shared.put_entry, meta, blobs, sources)

    def record_run(
        self, pipeline: str, used: dict[str, str], hits: Iterable[str], misses: Iterable[str]
    ) -> None:
        """The local bookkeeping, then the shared tier catches up on this run's local hits."""
        hits = list(hits)
        self.local.record_run(pipeline, used, hits, misses)
        self._catch_up_on(used, hits)

    def count_replay(self, pipeline: str, used: dict[str, str], hits: Sequence[str]) -> None:
        self.local.count_replay(pipeline, used, hits)
        self._catch_up_on(used, hits)

    def _catch_up_on(self, used: dict[str, str], hits: Sequence[str]) -> None:
        self._try("catch up", self.catch_up, [used[step] for step in hits if step in used])

    def catch_up(self, keys: list[str]) -> int:
        """Upload the entries among `keys` that were served locally and the shared tier lacks
        (written while it was down, or expired there), so a teammate need not compute them:
        one EXISTS round trip for all of them; when some are missing, one more to name them
        and one upload. Returns how many were uploaded."""
        known = self._from_shared.keys() | self._in_shared
        candidates = [key for key in dict.fromkeys(keys) if key not in known]
        if not candidates or not self.shared.online:
            return 0
        lacking = set(self.shared.lacking(candidates))
        self._in_shared.update(key for key in candidates if key not in lacking)
        uploads = (item for key in candidates if key in lacking for item in self._upload(key))
        uploaded = 0
        for batch in _batches(uploads, UPLOAD_BATCH):  # read back lazily: memory stays bounded
            self.shared.put_entries(batch)
            self._in_shared.update(entry.key for entry, _, _ in batch)
            uploaded += len(batch)
        return uploaded

    def _upload(self, key: str) -> list[Upload]:
        """[(entry, its values, its sources)] read back from the local store, or [] when an
        entry is gone, a value is damaged, or one is over the shared tier's size cap."""
        entry = self.local.get_entry(key)
        if entry is None or not self.shared.takes(entry.sizes):
            return []
        try:
            blobs = [self.local.load_blob(entry, i) for i in range(len(entry.outputs))]
        except CorruptEntry:
            return []
        texts = {fn_hash: self.local.source(fn_hash) for fn_hash in entry.functions.values()}
        return [(entry, blobs, {h: text for h, text in texts.items() if text is not None})]

    def load_value(self, entry: Entry, index: int) -> Any:
        try:
            return self.local.load_value(entry, index)
        except CorruptEntry as problem:
            try:
                blob = self.shared.load_blob(entry, index)
            except SharedTierDown:
                raise problem from None
            except CorruptEntry as shared_problem:
                raise CorruptEntry(f"{problem}; shared tier: {shared_problem}") from None
        self._try("backfill", self.local.put_value, entry, index, blob)
        try:
            return pickle.loads(blob)
        except Exception as exc:
            raise CorruptEntry(f"output {index} of entry {entry.key} cannot be unpickled") from exc

    def delete_entry(self, key: str) -> None:
        self.local.delete_entry(key)
        self._try("delete", self.shared.delete_entry, key)
        self._from_shared.pop(key, None)

    def source(self, fn_hash: str) -> str | None:
        return self.local.source(fn_hash) or self._try("source", self.shared.source, fn_hash)

    def clear_step(self, step: str, *, pipeline: str | None = None) -> int:
        pipeline = self.local.resolve(step, pipeline)
        self._try("clear", self.shared.clear_step, pipeline, step)
        return self.local.clear_step(step, pipeline=pipeline)

    def clear_pipeline(self, pipeline: str) -> int:
        steps = [step for p, step in self.local.scopes() if p == pipeline]
        return sum(self.clear_step(step, pipeline=pipeline) for step in steps)

    def clear_shared(self) -> int:
        """Delete this project's keys from the shared tier (SCAN + UNLINK); returns how many."""
        return self._try("clear", self.shared.clear) or 0

    def stats(self) -> dict[str, Any]:
        """The local store's stats plus a `tiers` table: the shared tier's entries, bytes,
        hits, refusals, and the entries not shared because a value was over the cap."""
        found = self.local.stats()
        found["tiers"] = {"shared": self.shared.stats()}
        return found


def _batches(uploads: Iterable[Upload], limit: int) -> Iterator[list[Upload]]:
    """Uploads in order, grouped so no group's values pass `limit` bytes (unless one entry
    alone does): one round trip per group, and the client never buffers gigabytes."""
    batch: list[Upload] = []
    size = 0
    for item in uploads:
        nbytes = sum(map(len, item[1]))
        if batch and size + nbytes > limit:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += nbytes
    if batch:
        yield batch
