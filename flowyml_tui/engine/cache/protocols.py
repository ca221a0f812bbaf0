"""The two seams of the cache: content that can be shared, and a workspace that never is.

`EntryStore` holds immutable, content-addressed entries and their values: what a teammate or a
cluster may share. `Workspace` holds the state of one checkout: pins, invalidation marks, usage
counters, which entry each step's last run used, and eviction. Everything is namespaced by
(pipeline, step). `LocalStore` implements both; a shared tier implements `EntryStore` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import msgspec

from .entry import Entry
from .notices import Notices
from .tables import CacheVerdicts

PREFETCH_VERSIONS = 4
"""Newest entries per step a shared tier's `prefetch` fetches (the Redis tier, the bucket
tier): the current one is nearly always among them."""


class CorruptEntry(Exception):
    """An entry whose bytes are missing, truncated or fail their checksum: treated as a miss."""


class SharedTierDown(Exception):
    """The shared tier is not reachable right now (the breaker is open)."""


class EntryInfo(msgspec.Struct, frozen=True):
    """One cached version of a step, as `entries()` lists it."""

    key: str
    step: str
    pipeline: str
    created_at: float
    last_used: float
    size: int
    duration_seconds: float
    pinned: bool
    code_hash: str | None


@runtime_checkable
class EntryStore(Protocol):
    """Content: entries and their values, immutable once written."""

    path: Path
    unreadable: set[str]
    """Keys whose metadata was there but malformed: reported as corrupt, not as new."""
    notices: Notices | None
    """Problems of a shared tier to report once per kind per run (None: nothing to report)."""
    layered: bool
    """True when a hit may come from another tier than this process's own (`tier_of`)."""
    generation: int | None
    """Changes whenever any process deleted an entry (as of the last `refresh`): what was
    found under a key still holds while it stays the same. None: not known (a shared tier)."""

    def refresh(self) -> None:
        """Drop metadata kept in memory if another process deleted entries since."""

    def get_entry(self, key: str) -> Entry | None:
        """The validated entry under `key`, or None (absent or malformed)."""

    def prefetch(self, pipeline: str, steps: Iterable[str]) -> int:
        """Read the entries these steps' last run used into memory at once; how many."""

    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        """The newest readable entry of one step of one pipeline."""

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        """Write an entry, its value blobs and its functions' sources, all or nothing."""

    def load_value(self, entry: Entry, index: int) -> Any:
        """Output `index` of `entry`, its bytes verified before unpickling; else CorruptEntry."""

    def delete_entry(self, key: str) -> None:
        """Remove an entry and its values (a no-op if it is gone)."""

    def source(self, fn_hash: str) -> str | None:
        """The source text of one function version, for diffs, or None if it was not kept."""

    def tier_of(self, key: str | None) -> str | None:
        """ "shared" for an entry this process got from a shared tier, else None."""

    def writer_of(self, key: str | None) -> str | None:
        """`user@host` who computed an entry got from a shared tier, else None."""


@runtime_checkable
class Workspace(Protocol):
    """Per-checkout state, never shared."""

    def pins(self, pipeline: str | None = None) -> dict[str, str]:
        """Step -> pinned entry key, of one pipeline or of all."""

    def pin(self, step: str, key: str | None = None, *, pipeline: str | None = None) -> str:
        """Pin a step to `key` (default: the entry its last run used); returns the key."""

    def unpin(self, step: str, *, pipeline: str | None = None) -> bool:
        """Unpin a step; False if it was not pinned."""

    def invalidate(self, steps: Iterable[str], *, pipeline: str | None = None) -> None:
        """Make the next run of these steps execute, dropping their pins."""

    def invalidations(self, pipeline: str) -> dict[str, int]:
        """Step -> time (ns) before which its entries no longer count."""

    def current(self, pipeline: str) -> dict[str, str]:
        """Step -> the entry the pipeline's last run used (what a miss is explained against)."""

    def record_run(
        self, pipeline: str, used: dict[str, str], hits: Iterable[str], misses: Iterable[str]
    ) -> None:
        """After a run: which entry each step used, and hit/miss counters."""

    def count_replay(self, pipeline: str, used: dict[str, str], hits: Sequence[str]) -> None:
        """`record_run` of a run that replayed the previous one: it may wait, at most a second
        while the process runs, for the next commit."""

    def evict(self, size_limit: int | None = None) -> list[str]:
        """Drop least recently used entries until under budget, never a pinned or newest one."""

    def cache_costs(self, pipeline: str) -> dict[str, dict[str, float]]:
        """Step -> the last measured figures of its cache (`breakeven.py`); never in a key."""

    def cache_verdicts(self, pipeline: str) -> CacheVerdicts:
        """The pipeline's last measured check time and the steps whose cache does not pay."""

    def record_cache_costs(
        self,
        pipeline: str,
        figures: dict[str, dict[str, float]],
        verdicts: CacheVerdicts | None,
    ) -> None:
        """Replace these steps' figures and, unless None, the pipeline's verdicts."""


class RunStart(NamedTuple):
    """This checkout's state for one pipeline as a run starts (`Store.begin_run`)."""

    pins: dict[str, str]
    invalidations: dict[str, int]
    current: dict[str, str]
    verdicts: CacheVerdicts


class Store(EntryStore, Workspace, Protocol):
    """What a run needs: content and a workspace (the local store is both)."""

    def begin_run(self, pipeline: str) -> RunStart:
        """`refresh`, then the pipeline's pins, invalidations, current entries and cache
        verdicts, read as of one moment (one write mark for all five, not five)."""


Upload = tuple[Entry, list[bytes], dict[str, str]]
"""An entry, its values and its functions' sources, as `put_entry` takes them."""


class SharedTier(Protocol):
    """What `TieredStore` asks of a team's tier (Redis, Redis with a blob store, or a blob
    store alone). Its methods raise `SharedTierDown` while it is unreachable."""

    url: str
    project: str
    notices: Notices
    blob_values: Any
    """The `BlobValues` big values go to, or None (everything in Redis)."""

    @property
    def online(self) -> bool:
        """False while the breaker is open (a recent failure): calls would fail at once."""

    def refresh(self) -> None:
        """Forget what was read this run."""

    def get_entry(self, key: str) -> Entry | None:
        """The verified entry under `key`, or None."""

    def fetch_newest(self, pipeline: str, steps: Iterable[str]) -> dict[str, Entry]:
        """The newest verified entries of these steps, in a bounded number of round trips."""

    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        """The newest verified entry of one step."""

    def writer_of(self, key: str | None) -> str | None:
        """`user@host` who wrote an entry read this run."""

    def takes(self, sizes: Iterable[int]) -> bool:
        """Whether an entry whose values have these sizes can be shared here."""

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        """Share one entry (or note why it stays local)."""

    def put_entries(self, items: list[Upload]) -> None:
        """Share many entries the tier takes, in as few round trips as it can."""

    def lacking(self, keys: list[str]) -> list[str]:
        """The keys among `keys` the tier does not hold."""

    def load_blob(self, entry: Entry, index: int) -> bytes:
        """Output `index`'s bytes, proven against the signed entry; else CorruptEntry."""

    def delete_entry(self, key: str) -> None:
        """Remove one entry (its content-addressed values may serve others)."""

    def source(self, fn_hash: str) -> str | None:
        """A function's source text, for diffs."""

    def clear_step(self, pipeline: str, step: str) -> int:
        """Delete one step's entries; how many."""

    def clear(self) -> int:
        """Delete this project's entries; how many keys or records."""

    def stats(self) -> dict[str, Any]:
        """Entries, bytes and this process's counters, for `cache stats`."""

    def referenced_digests(self) -> set[str]:
        """Every blob digest an entry this tier (or the blob store's index) holds names."""
