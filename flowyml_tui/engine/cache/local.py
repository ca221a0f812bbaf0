"""LocalStore: step results on disk (diskcache), with the metadata that explains every hit and miss.

Layout inside one diskcache.Cache (string keys, so nothing but values goes through pickle):

- ``e:<key>``        entry metadata as JSON (recipe of the key, sizes, checksums, previews)
- ``v:<key>:<i>``    output ``i`` as pickle bytes, verified by checksum before it is unpickled
- ``s:<hash>``       source text of one function, shared by every entry that used it (diffs)
- ``versions:["<pipeline>","<step>"]`` JSON list of that step's entry keys, oldest first
- ``meta:*``         pins, invalidations, hit/miss counters and the entry each step's last run
                     used, as JSON tables ``{pipeline: {step: ...}}``; last use per entry key
- ``meta:format``    the layout version: a store of another version is emptied at open

Everything a step owns belongs to (pipeline, step): two pipelines sharing a cache dir may both
have a step ``train`` and never see each other's entries, pins or counters.

Values and metadata of one entry are written in one transaction, so a process killed mid-write
leaves either the whole entry or none of it. Entries never change once written, so metadata
read once is kept in memory (an L1 in front of the disk) until a deletion anywhere bumps
``meta:generation``; `refresh()` checks that once per run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pickle
import sqlite3
import stat
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import diskcache
import msgspec

from ..errors import AmbiguousStepError, CacheError, CacheFullError, UnknownStepError
from ..totals import hit_rate
from . import files, tables
from .entry import KEY_FORMAT, Entry, decode_entry, encode_entry
from .multiget import get_many
from .notices import Notices
from .private import (
    check_private,
    ensure_cache_dir,
    ensure_private_dir,
    ensure_private_file,
    refuse_empty,
)
from .protocols import CorruptEntry, EntryInfo
from .safedisk import SafeDisk
from .values import checksum

DEFAULT_CACHE_DIR = ".flowyml/cache"
DEFAULT_SIZE_LIMIT = 4 * 2**30

_PINS = "meta:pins"
_INVALIDATED = "meta:invalidated"
_STATS = "meta:stats"
_USED = "meta:used"
_CURRENT = "meta:current"
_GENERATION = "meta:generation"
_FORMAT = "meta:format"
_VERSIONS = "versions:"
_L1_LIMIT = 50_000
_SHAPES = {
    _PINS: tables.PER_STEP_KEY,
    _INVALIDATED: tables.PER_STEP_TIME,
    _STATS: tables.PER_STEP_COUNTS,
    _USED: tables.PER_ENTRY_TIME,
    _CURRENT: tables.PER_STEP_KEY,
}


Method = TypeVar("Method", bound=Callable[..., Any])


def _heals_damage(method: Method) -> Method:
    """A method that meets a damaged database (a bad page behind a valid header) sets it aside,
    starts an empty one and runs once more there: one warning, never a permanent traceback.

    Only the outermost such call heals: one nested in it must not reopen the database under
    the caller's feet. The hot per-step reads and writes are not wrapped (a run treats their
    errors as a miss or "not cached"); the run's bookkeeping around them is.
    """

    @functools.wraps(method)
    def healing(self: LocalStore, *args: Any, **kwargs: Any) -> Any:
        if self._healing:
            return method(self, *args, **kwargs)
        self._healing = True
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not self.heal_if_damaged(exc):
                raise
        finally:
            self._healing = False
        return method(self, *args, **kwargs)

    return healing  # type: ignore[return-value]


class LocalStore:
    """The embedded store: content and workspace in one diskcache (SQLite) under the cache dir.

    Safe to open from several processes at once. Implements `EntryStore` and `Workspace`.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        *,
        size_limit: int = DEFAULT_SIZE_LIMIT,
    ) -> None:
        refuse_empty(os.fspath(cache_dir))
        self._healing = False
        """A `_heals_damage` method is running: calls inside it do not heal again."""
        self.path = Path(cache_dir).expanduser().absolute()
        self.size_limit = size_limit
        _open_private(self.path)
        self._l1: dict[str, Entry] = {}
        self._views: dict[str, tuple[str, dict[str, Any]]] = {}
        """Meta table name -> (its row as read, decoded): see `_meta_view`."""
        self._counters: tuple[str, dict[str, Any]] | None = None
        """The counters row this handle last wrote, decoded: `record_run` changes that copy
        rather than decode the row again while no other writer has replaced it."""
        self.unreadable: set[str] = set()
        """Keys whose metadata could not be read: the executor reports them as corrupt."""
        self.notices: Notices | None = None
        """Set when a shared tier was asked for but not used: each run says so."""
        self._full = False
        """The disk ran full during this run: nothing more is written until `refresh()`."""
        self._mark = files.WriterMark(self.path / "store")
        self._open_with_recovery()
        self._generation = self._generation_now()
        dead = files.dead_writers(self.path / "store")
        if dead:  # a writer died mid-write: its value files may be orphans
            self._collect()
            for marker in dead:
                marker.unlink(missing_ok=True)

    def _open_diskcache(self) -> None:
        self._cache = diskcache.Cache(
            str(self.path / "store"),
            disk=SafeDisk,
            eviction_policy="none",
            size_limit=2**62,
            statistics=False,
        )
        self._check_format()

    def _open_with_recovery(self) -> None:
        """Open the database; one that is not a database is moved aside, a full disk is
        freed of orphans first: neither may make every later run fail."""
        store_dir = self.path / "store"
        try:
            self._open_diskcache()
            return
        except Exception as exc:
            problem = exc
        if files.is_not_a_database(problem):
            self._set_aside(problem)
        elif files.is_disk_full(problem, store_dir):
            self._close_quietly()
            keep = files.referenced_read_only(store_dir)
            if keep is not None:
                files.remove_orphans(store_dir, keep)
        else:
            raise CacheError(
                f"cannot open the cache at {self.path}: {problem}; "
                "move it away or pass another --cache-dir"
            ) from problem
        try:
            self._open_diskcache()
        except Exception as exc:
            if files.is_disk_full(exc, store_dir):
                self._close_quietly()
                raise CacheFullError(
                    f"the disk holding the cache at {self.path} is full ({exc}): free some "
                    f"space, e.g. `flowyml-tui cache clear --cache-dir {self.path}` (works on "
                    "a full disk)"
                ) from exc
            raise CacheError(
                f"cannot open the cache at {self.path}: {exc}; "
                "move it away or pass another --cache-dir"
            ) from exc

    def _set_aside(self, problem: BaseException) -> None:
        """Move a damaged database aside (`cache gc` reclaims it) and make way for a fresh one."""
        store_dir = self.path / "store"
        self._close_quietly()
        kept = files.move_aside(store_dir)
        warnings.warn(
            f"the cache database in {store_dir} was damaged ({problem}); it was moved to "
            f"{kept.name} and an empty cache started (cached results are lost, nothing else; "
            "`flowyml-tui cache gc` deletes the damaged copy)",
            stacklevel=5,
        )
        files.remove_orphans(store_dir, keep=set())  # no row points to any of them now
        _open_private(self.path)  # a fresh cache.db, 0600 before sqlite touches it

    def heal_if_damaged(self, problem: BaseException) -> bool:
        """After a query failed: if SQLite finds the database damaged (a bad page behind a
        valid header), set it aside and open an empty one; True if it did. Checked only here,
        never on a healthy open: `PRAGMA quick_check` reads every page."""
        if not files.is_not_a_database(problem):
            return False
        if files.passes_quick_check(self.path / "store" / files.DB_NAME):
            return False
        self._set_aside(problem)
        self._open_diskcache()
        self._l1.clear()
        self._views.clear()
        self._counters = None
        self._generation = self._generation_now()
        return True

    def _close_quietly(self) -> None:
        cache = getattr(self, "_cache", None)
        if cache is not None:
            with contextlib.suppress(Exception):
                cache.close()

    def _generation_now(self) -> int:
        """The deletion counter; a bad one is reset (it only has to change, never to count)."""
        value = self._cache.get(_GENERATION, 0)
        if type(value) is int:
            return value
        warnings.warn(
            f"cache metadata {_GENERATION} in {self.path} was unreadable; reset", stacklevel=3
        )
        with contextlib.suppress(Exception):
            self._cache.set(_GENERATION, 0)
        return 0

    def _check_format(self) -> None:
        """Empty a store written in another layout: its entries would be misread, not reused."""
        found = self._cache.get(_FORMAT)
        if found == str(KEY_FORMAT):
            return
        if len(self._cache):
            warnings.warn(
                f"the cache at {self.path} was written by another version of flowyml-tui "
                f"(format {found or 1}, now {KEY_FORMAT}); its entries were dropped",
                stacklevel=3,
            )
            self.clear()
        self._cache.set(_FORMAT, str(KEY_FORMAT))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def close(self) -> None:
        self._cache.close()
        self._mark.release()

    # -- entries ---------------------------------------------------------------------------

    @_heals_damage
    def refresh(self) -> None:
        """Drop the in-memory metadata if any process deleted entries since we read them."""
        self._full = False
        generation = self._generation_now()
        if generation != self._generation:
            self._l1.clear()
            self._generation = generation

    def get_entry(self, key: str) -> Entry | None:
        """The metadata of one entry, or None; unreadable or malformed metadata is absent."""
        entry = self._l1.get(key)
        if entry is not None:
            return entry
        raw = self._cache.get("e:" + key)
        return None if raw is None else self._read_entry(key, raw)

    def _read_entry(self, key: str, raw: Any) -> Entry | None:
        """Stored metadata -> its entry, kept in memory; unreadable or misplaced is absent."""
        try:
            if not isinstance(raw, (bytes, str)):
                raise ValueError("not JSON")
            entry = decode_entry(raw)
            if entry.key != key:
                raise ValueError("an entry stored under another key")
        except (ValueError, msgspec.DecodeError):  # ValidationError is a DecodeError
            self.unreadable.add(key)
            return None
        self._remember(entry)
        return entry

    @_heals_damage
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

    def _remember(self, entry: Entry) -> None:
        if len(self._l1) >= _L1_LIMIT:
            self._l1.clear()
        self._l1[entry.key] = entry

    def _deleted(self) -> None:
        """Tell every process's L1 that entries went (call inside the deleting transaction)."""
        try:
            self._generation = self._cache.incr(_GENERATION, default=0)
        except TypeError:  # a row that is not our int (planted, or a bad byte): start afresh
            self._cache.set(_GENERATION, self._generation + 1)
            self._generation += 1
        self._l1.clear()

    @_heals_damage
    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        """The newest readable entry of one step of one pipeline."""
        for key in reversed(self._versions(pipeline, step)):
            entry = self.get_entry(key)
            if entry is not None:
                return entry
        return None

    @_heals_damage
    def versions(self, step: str, *, pipeline: str | None = None) -> list[str]:
        """Entry keys of a step, oldest first (`pipeline` needed only if the name is shared)."""
        return self._versions(self.resolve(step, pipeline), step)

    def _versions(self, pipeline: str, step: str) -> list[str]:
        scope = _versions_key(pipeline, step)
        raw = self._cache.get(scope)
        keys, ok = tables.decode(raw, tables.VERSIONS)
        if not ok or (raw is None and scope in self._cache):  # a row SafeDisk refused
            keys = self._rebuild_versions(pipeline, step)
            warnings.warn(
                f"the version list of step {step!r} (pipeline {pipeline!r}) in {self.path} "
                "was unreadable; rebuilt from its entries",
                stacklevel=3,
            )
            with contextlib.suppress(Exception):  # healing is best effort (a full disk)
                if keys:
                    self._cache.set(scope, json.dumps(keys))
                else:
                    self._cache.delete(scope)
        return keys

    def _rebuild_versions(self, pipeline: str, step: str) -> list[str]:
        """A step's entry keys, oldest first, from the entries themselves (a slow scan)."""
        found = []
        for name in self._keys("e:"):
            entry = self.get_entry(name[2:])
            if entry is not None and (entry.pipeline, entry.step) == (pipeline, step):
                found.append((entry.created_ns, entry.key))
        return [key for _, key in sorted(found)]

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        """Write the values, their sources and the metadata of one entry, all or nothing."""
        key, step, pipeline = meta.key, meta.step, meta.pipeline
        cache = self._cache
        if self._full:
            raise CacheFullError(f"not cached: the disk holding {self.path} is full (see above)")
        try:
            self._mark.hold()
            with cache.transact():
                for fn_hash, text in sources.items():
                    if ("s:" + fn_hash) not in cache:
                        cache.set("s:" + fn_hash, text)
                for index, blob in enumerate(blobs):
                    cache.set(f"v:{key}:{index}", blob)
                cache.set("e:" + key, encode_entry(meta))
                versions = [k for k in self._versions(pipeline, step) if k != key]
                versions.append(key)
                cache.set(_versions_key(pipeline, step), json.dumps(versions))
        except Exception as exc:
            self._after_failed_write(exc)
            raise
        self._remember(meta)
        self.unreadable.discard(key)

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
        key = entry.key
        blob = self.load_blob(entry, index)
        try:
            return pickle.loads(blob)
        except Exception as exc:
            raise CorruptEntry(f"output {index} of entry {key} cannot be unpickled: {exc}") from exc

    layered = False
    """Every hit is this process's own store's: nothing for `tier_of` to name."""

    def tier_of(self, key: str | None) -> str | None:
        return None

    def writer_of(self, key: str | None) -> str | None:
        return None

    @_heals_damage
    def source(self, fn_hash: str) -> str | None:
        text = self._cache.get("s:" + fn_hash)
        return text if isinstance(text, str) else None

    @_heals_damage
    def delete_entry(self, key: str) -> None:
        entry = self.get_entry(key)
        self._mark.hold()
        with self._cache.transact():
            count = len(entry.sizes) if entry else 0
            for index in range(count):
                self._cache.delete(f"v:{key}:{index}")
            self._cache.delete("e:" + key)
            if entry:
                scope = _versions_key(entry.pipeline, entry.step)
                versions = [k for k in self._versions(entry.pipeline, entry.step) if k != key]
                if versions:
                    self._cache.set(scope, json.dumps(versions))
                else:
                    self._cache.delete(scope)
            self._deleted()

    # -- which pipeline a step name means ------------------------------------------------

    @_heals_damage
    def scopes(self) -> list[tuple[str, str]]:
        """Every (pipeline, step) that has entries or a pin, sorted."""
        found = set()
        for key in self._keys(_VERSIONS):
            try:
                pipeline, step = json.loads(key[len(_VERSIONS) :])
            except (TypeError, ValueError):
                continue
            found.add((str(pipeline), str(step)))
        for pipeline, table in self._meta_view(_PINS).items():
            found.update((pipeline, step) for step in _table(table))
        return sorted(found)

    @_heals_damage
    def resolve(self, step: str, pipeline: str | None = None) -> str:
        """The pipeline a step name belongs to: `pipeline` if given, else the only one with it."""
        if pipeline is not None:
            return pipeline
        owners = sorted({p for p, s in self.scopes() if s == step})
        if len(owners) == 1:
            return owners[0]
        if not owners:
            raise UnknownStepError(
                f"step {step!r} has no cached result in {self.path}; run its pipeline once first"
            )
        raise AmbiguousStepError(
            f"step {step!r} is in several pipelines of the cache at {self.path} "
            f"({', '.join(owners)}); name one with --pipeline NAME (pipeline=...)"
        )

    # -- pins and invalidation -------------------------------------------------------------

    @_heals_damage
    def pins(self, pipeline: str | None = None) -> dict[str, str]:
        """Pinned steps and the entry key each is pinned to, of one pipeline or of all."""
        table = self._meta_view(_PINS)
        if pipeline is not None:
            return _table(table.get(pipeline))
        return {step: key for inner in table.values() for step, key in _table(inner).items()}

    @_heals_damage
    def pin(self, step: str, key: str | None = None, *, pipeline: str | None = None) -> str:
        """Pin a step to `key`, else to the entry its last run used, else its newest entry."""
        try:
            pipeline = self.resolve(step, pipeline)
        except AmbiguousStepError:
            raise
        except UnknownStepError:
            raise UnknownStepError(
                f"step {step!r} has no cached result to pin; run the pipeline once first"
            ) from None
        if key is None:
            key = self.current(pipeline).get(step) or next(
                iter(reversed(self._versions(pipeline, step))), None
            )
        if key is None or self.get_entry(key) is None:
            raise UnknownStepError(
                f"step {step!r} of pipeline {pipeline!r} has no cached result to pin; "
                "run the pipeline once first"
            )
        with self._cache.transact():
            self._update(_PINS, pipeline, {step: key})
        return key

    @_heals_damage
    def unpin(self, step: str, *, pipeline: str | None = None) -> bool:
        """Unpin a step; False if it was not pinned."""
        pipeline = self.resolve(step, pipeline)
        with self._cache.transact():
            return self._update(_PINS, pipeline, drop=[step])

    @_heals_damage
    def invalidate(self, steps: Iterable[str], *, pipeline: str | None = None) -> None:
        """Make the next run of these steps execute (and drop their pins, which would hide it)."""
        now = time.time_ns()
        names = list(steps)
        owners = {name: self._owner(name, pipeline) for name in names}
        with self._cache.transact():
            for name, owner in owners.items():
                if owner is not None:
                    self._update(_INVALIDATED, owner, {name: now})
                    self._update(_PINS, owner, drop=[name])

    def _owner(self, step: str, pipeline: str | None) -> str | None:
        """Like `resolve`, but None for a step the cache has never seen (nothing to mark)."""
        try:
            return self.resolve(step, pipeline)
        except AmbiguousStepError:
            raise
        except UnknownStepError:
            return None

    @_heals_damage
    def invalidations(self, pipeline: str) -> dict[str, int]:
        """Step -> time (ns) before which its entries no longer count, for one pipeline."""
        marks = _table(self._meta_view(_INVALIDATED).get(pipeline))
        return {step: int(ns) for step, ns in marks.items()}

    @_heals_damage
    def current(self, pipeline: str) -> dict[str, str]:
        """Step -> the entry key the pipeline's last run used: what a reason compares with."""
        return _table(self._meta_view(_CURRENT).get(pipeline))

    # -- bookkeeping, once per run ---------------------------------------------------------

    @_heals_damage
    def record_run(
        self, pipeline: str, used: dict[str, str], hits: Iterable[str], misses: Iterable[str]
    ) -> None:
        """Remember which entry each step used and count hits/misses: one write per run.

        An entry's last use is stamped when it stops being its step's current entry; a
        current entry counts as used now. So a run that changes nothing rewrites only the
        counters.
        """
        now = time.time()
        with self._cache.transact():
            current = self.current(pipeline)
            moved = {step: key for step, key in used.items() if current.get(step) != key}
            if moved:
                last_used = self._meta(_USED)
                for step, key in moved.items():
                    if step in current:
                        last_used[current[step]] = now
                    last_used.pop(key, None)
                self._set_meta(_USED, last_used)
                self._update(_CURRENT, pipeline, moved)
            counters = self._counters_to_update()
            mine = _table(counters.get(pipeline))
            for step in hits:
                mine.setdefault(step, [0, 0])[0] += 1
            for step in misses:
                mine.setdefault(step, [0, 0])[1] += 1
            counters[pipeline] = mine
            row = _JSON_ENCODER.encode(counters).decode()
            self._cache.set(_STATS, row)
            self._counters = (row, counters)
        # Only a run that wrote entries can have grown the store past its budget: a cached
        # re-run skips the two queries `volume` costs (a store others fill is checked by them).
        if (moved or misses) and self._cache.volume() > self.size_limit:
            self.evict()

    def _counters_to_update(self) -> dict[str, Any]:
        """The counters table, inside `record_run`'s transaction, to change and write back.

        A 1000-step pipeline's row costs ~0.3 ms to decode and every run rewrites it, so the
        copy this handle last wrote is reused while the row is still exactly that one (any
        other writer's row differs). It is taken out of the memo first: a write that fails
        half-way cannot leave changed counters behind as if they were the stored ones.
        """
        raw = self._cache.get(_STATS)
        memo, self._counters = self._counters, None
        if memo is not None and raw is not None and memo[0] == raw:
            return memo[1]
        return self._decode_meta(_STATS, raw)

    @_heals_damage
    def last_used(self) -> dict[str, float]:
        """Entry key -> when it was last used; current entries count as used now."""
        now = time.time()
        stamps = self._meta(_USED)
        for table in self._meta_view(_CURRENT).values():
            for key in _table(table).values():
                stamps[key] = now
        return stamps

    @_heals_damage
    def evict(self, size_limit: int | None = None) -> list[str]:
        """Drop least recently used entries until under budget; never a pinned or newest one."""
        limit = self.size_limit if size_limit is None else size_limit
        infos = self.entries()
        usage = self.disk_usage()
        total = usage["total"]
        if total > limit and (usage["orphans"] or usage["set_aside"]):
            removed = self.gc()
            total -= removed["bytes"] + removed["set_aside_bytes"]
        protected = set(self.pins().values())
        for pipeline, step in {(info.pipeline, info.step) for info in infos}:
            versions = self._versions(pipeline, step)
            if versions:
                protected.add(versions[-1])
        evicted = []
        for info in sorted(infos, key=lambda i: i.last_used):
            if total <= limit:
                break
            if info.key in protected:
                continue
            self.delete_entry(info.key)
            total -= info.size
            evicted.append(info.key)
        return evicted

    # -- what users call -------------------------------------------------------------------

    @_heals_damage
    def steps(self) -> list[str]:
        """Step names with entries or a pin, of every pipeline."""
        return sorted({step for _, step in self.scopes()})

    @_heals_damage
    def pipelines(self) -> list[str]:
        """Pipelines with entries or pins in this cache dir."""
        return sorted({pipeline for pipeline, _ in self.scopes()})

    @_heals_damage
    def entries(self, step: str | None = None, *, pipeline: str | None = None) -> list[EntryInfo]:
        """Cached versions, oldest first, of one step, of one pipeline's steps, or of all."""
        if step is not None:
            scopes = [(self.resolve(step, pipeline), step)]
        else:
            scopes = [s for s in self.scopes() if pipeline is None or s[0] == pipeline]
        pins = set(self.pins().values())
        last_used = self.last_used()
        infos = []
        for owner, name in scopes:
            for key in self._versions(owner, name):
                entry = self.get_entry(key)
                if entry is None:
                    continue
                infos.append(
                    EntryInfo(
                        key=key,
                        step=name,
                        pipeline=owner,
                        created_at=entry.created,
                        last_used=last_used.get(key, entry.created),
                        size=sum(entry.sizes),
                        duration_seconds=entry.duration,
                        pinned=key in pins,
                        code_hash=entry.code_hash,
                    )
                )
        return infos

    @_heals_damage
    def stats(self) -> dict[str, Any]:
        """Entries, bytes, hits and misses, in total and per (pipeline, step).

        ``steps`` is a list of rows, each naming its ``pipeline`` and ``step``.
        """
        counters = self._meta(_STATS)
        pins = self._meta(_PINS)
        rows: dict[tuple[str, str], dict[str, Any]] = {}

        def row(pipeline: str, step: str) -> dict[str, Any]:
            return rows.setdefault(
                (pipeline, step), {"pipeline": pipeline, "step": step, "entries": 0, "bytes": 0}
            )

        for info in self.entries():
            found = row(info.pipeline, info.step)
            found["entries"] += 1
            found["bytes"] += info.size
        for pipeline, table in counters.items():
            for step in _table(table):
                row(pipeline, step)
        for pipeline, table in pins.items():
            for step in _table(table):
                row(pipeline, step)
        for (pipeline, step), found in rows.items():
            hits, misses = _table(counters.get(pipeline)).get(step, [0, 0])
            found.update(hits=hits, misses=misses, pinned=step in _table(pins.get(pipeline)))
        ordered = [rows[scope] for scope in sorted(rows)]
        hits, misses = sum(r["hits"] for r in ordered), sum(r["misses"] for r in ordered)
        return {
            "path": str(self.path),
            "entries": sum(r["entries"] for r in ordered),
            "bytes": sum(r["bytes"] for r in ordered),
            "disk": self.disk_usage(),
            "hits": hits,
            "misses": misses,
            "hit_rate": hit_rate(hits, misses),  # the one definition: engine/totals.py
            "pipelines": sorted({r["pipeline"] for r in ordered}),
            "steps": ordered,
        }

    @_heals_damage
    def clear(self) -> None:
        """Forget everything: entries, pins, invalidations, counters and every value file.

        Files go first, without the database: on a full disk that frees the space sqlite
        then needs to delete its rows.
        """
        store_dir = self.path / "store"
        self._mark.hold()
        with self._cache.transact():
            files.remove_orphans(store_dir, keep=set())
            generation = self._generation_now()
            self._cache.clear()
            self._cache.set(_GENERATION, generation)
            self._cache.set(_FORMAT, str(KEY_FORMAT))
            self._deleted()

    @_heals_damage
    def gc(self) -> dict[str, int]:
        """Delete value files no entry points to and metadata rows that cannot be read.

        Holds the write lock while it looks, so a file another process is writing right now
        (its row not yet committed) is never taken for an orphan. Needs no free disk space.
        Damaged databases set aside by earlier opens go too. Returns ``{"files": n,
        "bytes": n, "rows": n, "set_aside": n, "set_aside_bytes": n}`` removed.
        """
        found = self._collect()
        set_aside, set_aside_bytes = files.remove_set_aside(self.path / "store")
        return {**found, "set_aside": set_aside, "set_aside_bytes": set_aside_bytes}

    def _collect(self) -> dict[str, int]:
        """`gc` without reclaiming set-aside databases: what an open after a killed writer
        and a failed write do, so a damaged copy stays for a post-mortem until `cache gc`."""
        store_dir = self.path / "store"
        with self._cache.transact():
            removed, freed = files.remove_orphans(store_dir, files.referenced(self._cache._sql))
            rows = self._drop_unreadable_rows()
        return {"files": removed, "bytes": freed, "rows": rows}

    def _drop_unreadable_rows(self) -> int:
        """Heal what a bad byte left: version lists and meta tables that do not decode."""
        dropped = 0
        for name in list(self._keys(_VERSIONS)):
            if not self._row_ok(name, tables.VERSIONS):
                try:
                    pipeline, step = json.loads(name[len(_VERSIONS) :])
                    self._versions(str(pipeline), str(step))  # rebuilds it
                except (TypeError, ValueError):
                    self._cache.delete(name)
                dropped += 1
        for name in _SHAPES:
            if not self._row_ok(name, _SHAPES[name]):
                self._meta(name)  # rewrites what could be saved
                dropped += 1
        return dropped

    def _row_ok(self, name: str, shape: Any) -> bool:
        raw = self._cache.get(name)
        return tables.decode(raw, shape)[1] and not (raw is None and name in self._cache)

    @_heals_damage
    def disk_usage(self) -> dict[str, int]:
        """Every byte under the cache dir: ``total``, and ``values`` (what entries point to),
        ``database``, ``orphans`` (files nothing points to: `gc` removes them), ``records``
        (run records) and ``other``."""
        return files.usage(self.path, files.referenced(self._cache._sql))

    @_heals_damage
    def clear_step(self, step: str, *, pipeline: str | None = None) -> int:
        """Forget one step's entries, pin and counters; returns how many entries went."""
        pipeline = self.resolve(step, pipeline)
        keys = self._versions(pipeline, step)
        for key in keys:
            self.delete_entry(key)
        with self._cache.transact():
            self._cache.delete(_versions_key(pipeline, step))
            for name in (_PINS, _STATS, _INVALIDATED, _CURRENT):
                self._update(name, pipeline, drop=[step])
        return len(keys)

    @_heals_damage
    def clear_pipeline(self, pipeline: str) -> int:
        """Forget every step of one pipeline; returns how many entries went."""
        return sum(
            self.clear_step(step, pipeline=pipeline) for p, step in self.scopes() if p == pipeline
        )

    # -- helpers ---------------------------------------------------------------------------

    def _meta(self, name: str) -> dict[str, Any]:
        """A meta table, its shape checked; a bad one is warned about and rewritten."""
        return self._decode_meta(name, self._cache.get(name))

    def _meta_view(self, name: str) -> dict[str, Any]:
        """`_meta` for a reader that does not change the table: decoded once per distinct row.

        Each meta table is one JSON row holding every step of every pipeline in the cache
        dir, and a run reads the current, pins and invalidation tables when it starts and the
        current one again when it ends: a 1000-step pipeline's rows cost ~0.3 ms a decode.
        """
        raw = self._cache.get(name)
        seen = self._views.get(name)
        if seen is not None and raw is not None and seen[0] == raw:
            return seen[1]
        table = self._decode_meta(name, raw)
        if isinstance(raw, str):
            self._views[name] = (raw, table)
        return table

    def _decode_meta(self, name: str, raw: Any) -> dict[str, Any]:
        table, ok = tables.decode(raw, _SHAPES.get(name, dict[str, Any]))
        if not ok or (raw is None and name in self._cache):  # a row SafeDisk refused
            warnings.warn(
                f"cache metadata {name} in {self.path} was unreadable; kept what could be "
                "read, dropped the rest",
                stacklevel=3,
            )
            with contextlib.suppress(Exception):  # healing is best effort (a full disk)
                self._set_meta(name, table)
        return table

    def _set_meta(self, name: str, table: dict[str, Any]) -> None:
        self._cache.set(name, _JSON_ENCODER.encode(table).decode())

    def _update(
        self,
        name: str,
        pipeline: str,
        values: dict[str, Any] | None = None,
        drop: Iterable[str] = (),
    ) -> bool:
        """Set and drop steps in one pipeline's part of a meta table; True if any was dropped."""
        table = self._meta(name)
        mine = _table(table.get(pipeline))
        dropped = False
        for step in drop:
            dropped = mine.pop(step, None) is not None or dropped
        mine.update(values or {})
        if mine:
            table[pipeline] = mine
        else:
            table.pop(pipeline, None)
        self._set_meta(name, table)
        return dropped

    def _keys(self, prefix: str) -> Iterator[str]:
        for key in self._cache.iterkeys():
            if isinstance(key, str) and key.startswith(prefix):
                yield key


def _versions_key(pipeline: str, step: str) -> str:
    return _VERSIONS + json.dumps([pipeline, step], separators=(",", ":"))


_JSON_ENCODER = msgspec.json.Encoder()
"""Meta tables are plain JSON; msgspec writes (and, in tables.py, reads) it several times
faster than json, which matters because a run reads and rewrites them every time."""


def _table(value: Any) -> dict[str, Any]:
    """A pipeline's part of a meta table, or an empty one if it is missing or malformed."""
    return dict(value) if isinstance(value, dict) else {}


def _open_private(path: Path) -> None:
    """Check (or create 0700) every path the store opens before diskcache reads any of it.

    The cache dir, `store/`, `cache.db` and its SQLite side files, and the value subdirs must
    be ours and not writable by others; a project root is refused. Nothing is chmodded.
    """
    ensure_cache_dir(path)
    store = path / "store"
    ensure_private_dir(store, "cache store")
    ensure_private_file(store / "cache.db", "cache database")
    for suffix in ("-wal", "-shm", "-journal"):
        side = store / ("cache.db" + suffix)
        try:
            info = os.lstat(side)
        except FileNotFoundError:  # absent, or removed just now by another process's sqlite
            continue
        check_private(side, info, "cache database file", is_dir=False)
    me = os.getuid() if hasattr(os, "getuid") else None
    with os.scandir(store) as found:  # up to 256 value dirs: the quick test first
        for item in found:
            if len(item.name) != 2:
                continue
            try:
                info = item.stat(follow_symlinks=False)
            except FileNotFoundError:  # emptied and removed by another process just now
                continue
            if (
                stat.S_ISDIR(info.st_mode)
                and not info.st_mode & 0o022
                and me in (None, info.st_uid)
            ):
                continue
            check_private(Path(item.path), info, "cache value dir", is_dir=True)
