"""CacheStore: step results on disk (diskcache), with the metadata that explains every hit and miss.

Layout inside one diskcache.Cache (string keys, so nothing but values goes through pickle):

- ``e:<key>``        entry metadata as JSON (recipe of the key, sizes, checksums, previews)
- ``v:<key>:<i>``    output ``i`` as pickle bytes, verified by checksum before it is unpickled
- ``s:<hash>``       source text of one function, shared by every entry that used it (diffs)
- ``versions:<step>`` JSON list of that step's entry keys, oldest first
- ``meta:*``         pins, invalidations, hit/miss counters, last use, current entry per step

Values and metadata of one entry are written in one transaction, so a process killed mid-write
leaves either the whole entry or none of it. Entries never change once written, so metadata
read once is kept in memory (an L1 in front of the disk) until a deletion anywhere bumps
``meta:generation``; `refresh()` checks that once per run.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
import xxhash

from .errors import CacheError, UnknownStepError
from .totals import hit_rate

DEFAULT_CACHE_DIR = ".flowyml/cache"
DEFAULT_SIZE_LIMIT = 4 * 2**30

_PINS = "meta:pins"
_INVALIDATED = "meta:invalidated"
_STATS = "meta:stats"
_USED = "meta:used"
_CURRENT = "meta:current"
_GENERATION = "meta:generation"
_L1_LIMIT = 50_000


class CorruptEntry(Exception):
    """An entry whose bytes are missing, truncated or fail their checksum: treated as a miss."""


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """One cached version of a step, as `CacheStore.entries()` lists it."""

    key: str
    step: str
    created_at: float
    last_used: float
    size: int
    duration_seconds: float
    pinned: bool
    code_hash: str | None


def checksum(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def serialize(value: Any) -> tuple[bytes, str]:
    """Pickle a value, falling back to cloudpickle for lambdas, local classes and the like."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), "pickle"
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), "cloudpickle"


class CacheStore:
    """The on-disk step cache. Safe to open from several processes at once (SQLite underneath)."""

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        *,
        size_limit: int = DEFAULT_SIZE_LIMIT,
    ) -> None:
        self.path = Path(cache_dir).expanduser().absolute()
        self.size_limit = size_limit
        _ensure_private_dir(self.path)
        try:
            self._cache = diskcache.Cache(
                str(self.path / "store"),
                eviction_policy="none",
                size_limit=2**62,
                statistics=False,
            )
        except Exception as exc:  # sqlite corruption, permissions, a file where a dir should be
            raise CacheError(
                f"cannot open the cache at {self.path}: {exc}; "
                "move it away or pass another --cache-dir"
            ) from exc
        os.chmod(self.path / "store", 0o700)
        self._l1: dict[str, dict[str, Any]] = {}
        self.unreadable: set[str] = set()
        """Keys whose metadata could not be read: the executor reports them as corrupt."""
        self._generation = self._cache.get(_GENERATION, 0)

    def __repr__(self) -> str:
        return f"CacheStore({str(self.path)!r})"

    def close(self) -> None:
        self._cache.close()

    # -- entries ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Drop the in-memory metadata if any process deleted entries since we read them."""
        generation = self._cache.get(_GENERATION, 0)
        if generation != self._generation:
            self._l1.clear()
            self._generation = generation

    def get_entry(self, key: str) -> dict[str, Any] | None:
        """The metadata of one entry, or None; unreadable metadata counts as absent."""
        entry = self._l1.get(key)
        if entry is not None:
            return entry
        raw = self._cache.get("e:" + key)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict) or entry.get("key") != key:
                raise ValueError("not an entry")
        except (TypeError, ValueError):
            self.unreadable.add(key)
            return None
        self._remember(entry)
        return entry

    def _remember(self, entry: dict[str, Any]) -> None:
        if len(self._l1) >= _L1_LIMIT:
            self._l1.clear()
        self._l1[entry["key"]] = entry

    def _deleted(self) -> None:
        """Tell every process's L1 that entries went (call inside the deleting transaction)."""
        self._generation = self._cache.incr(_GENERATION, default=0)
        self._l1.clear()

    def newest_entry(self, step: str) -> dict[str, Any] | None:
        for key in reversed(self.versions(step)):
            entry = self.get_entry(key)
            if entry is not None:
                return entry
        return None

    def versions(self, step: str) -> list[str]:
        raw = self._cache.get("versions:" + step)
        return json.loads(raw) if raw else []

    def put_entry(self, meta: dict[str, Any], blobs: list[bytes], sources: dict[str, str]) -> None:
        """Write the values, their sources and the metadata of one entry, all or nothing."""
        key, step = meta["key"], meta["step"]
        cache = self._cache
        with cache.transact():
            for fn_hash, text in sources.items():
                if ("s:" + fn_hash) not in cache:
                    cache.set("s:" + fn_hash, text)
            for index, blob in enumerate(blobs):
                cache.set(f"v:{key}:{index}", blob)
            cache.set("e:" + key, json.dumps(meta, separators=(",", ":")))
            versions = [k for k in self.versions(step) if k != key]
            versions.append(key)
            cache.set("versions:" + step, json.dumps(versions))
        self._remember(meta)
        self.unreadable.discard(key)

    def load_value(self, entry: dict[str, Any], index: int) -> Any:
        """Load output `index` of an entry, checking its bytes before anything is unpickled."""
        key = entry["key"]
        blob = self._cache.get(f"v:{key}:{index}")
        if not isinstance(blob, bytes):
            raise CorruptEntry(f"output {index} of entry {key} is missing")
        if len(blob) != entry["sizes"][index] or checksum(blob) != entry["checksums"][index]:
            raise CorruptEntry(f"output {index} of entry {key} fails its checksum (truncated?)")
        try:
            return pickle.loads(blob)
        except Exception as exc:
            raise CorruptEntry(f"output {index} of entry {key} cannot be unpickled: {exc}") from exc

    def source(self, fn_hash: str) -> str | None:
        text = self._cache.get("s:" + fn_hash)
        return text if isinstance(text, str) else None

    def delete_entry(self, key: str) -> None:
        entry = self.get_entry(key)
        with self._cache.transact():
            count = len(entry["sizes"]) if entry else 0
            for index in range(count):
                self._cache.delete(f"v:{key}:{index}")
            self._cache.delete("e:" + key)
            if entry:
                step = entry["step"]
                versions = [k for k in self.versions(step) if k != key]
                if versions:
                    self._cache.set("versions:" + step, json.dumps(versions))
                else:
                    self._cache.delete("versions:" + step)
            self._deleted()

    # -- pins and invalidation -------------------------------------------------------------

    def pins(self) -> dict[str, str]:
        """Pinned steps and the entry key each is pinned to."""
        return self._meta(_PINS)

    def pin(self, step: str, key: str | None = None) -> str:
        """Pin a step to `key`, else to the entry its last run used, else its newest entry."""
        if key is None:
            key = self._meta(_CURRENT).get(step) or next(iter(reversed(self.versions(step))), None)
        if key is None or self.get_entry(key) is None:
            raise UnknownStepError(
                f"step {step!r} has no cached result to pin; run the pipeline once first"
            )
        with self._cache.transact():
            pins = self.pins()
            pins[step] = key
            self._set_meta(_PINS, pins)
        return key

    def unpin(self, step: str) -> bool:
        with self._cache.transact():
            pins = self.pins()
            found = pins.pop(step, None) is not None
            self._set_meta(_PINS, pins)
        return found

    def invalidate(self, steps: Iterable[str]) -> None:
        """Make the next run of these steps execute (and drop their pins, which would hide it)."""
        now = time.time_ns()
        with self._cache.transact():
            marks = self.invalidations()
            pins = self.pins()
            for name in steps:
                marks[name] = now
                pins.pop(name, None)
            self._set_meta(_INVALIDATED, marks)
            self._set_meta(_PINS, pins)

    def invalidations(self) -> dict[str, int]:
        """Step -> time (ns) before which its entries no longer count."""
        return self._meta(_INVALIDATED)

    # -- bookkeeping, once per run ---------------------------------------------------------

    def record_run(self, used: dict[str, str], hits: Iterable[str], misses: Iterable[str]) -> None:
        """Remember which entry each step used and count hits/misses: one write per run.

        An entry's last use is stamped when it stops being its step's current entry; a
        current entry counts as used now. So a run that changes nothing rewrites only the
        counters.
        """
        now = time.time()
        with self._cache.transact():
            current = self._meta(_CURRENT)
            moved = {step: key for step, key in used.items() if current.get(step) != key}
            if moved:
                last_used = self._meta(_USED)
                for step, key in moved.items():
                    if step in current:
                        last_used[current[step]] = now
                    current[step] = key
                    last_used.pop(key, None)
                self._set_meta(_USED, last_used)
                self._set_meta(_CURRENT, current)
            counters = self._meta(_STATS)
            for step in hits:
                counters.setdefault(step, [0, 0])[0] += 1
            for step in misses:
                counters.setdefault(step, [0, 0])[1] += 1
            self._set_meta(_STATS, counters)
        if self._cache.volume() > self.size_limit:
            self.evict()

    def last_used(self) -> dict[str, float]:
        """Entry key -> when it was last used; current entries count as used now."""
        now = time.time()
        stamps = self._meta(_USED)
        for key in self._meta(_CURRENT).values():
            stamps[key] = now
        return stamps

    def evict(self, size_limit: int | None = None) -> list[str]:
        """Drop least recently used entries until under budget; never a pinned or newest one."""
        limit = self.size_limit if size_limit is None else size_limit
        infos = self.entries()
        total = sum(info.size for info in infos)
        protected = set(self.pins().values())
        for step in {info.step for info in infos}:
            versions = self.versions(step)
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

    def steps(self) -> list[str]:
        names = {key[len("versions:") :] for key in self._keys("versions:")}
        return sorted(names | set(self.pins()))

    def entries(self, step: str | None = None) -> list[EntryInfo]:
        """Cached versions, oldest first, of one step or of all."""
        names = [step] if step is not None else self.steps()
        pins = set(self.pins().values())
        last_used = self.last_used()
        infos = []
        for name in names:
            for key in self.versions(name):
                entry = self.get_entry(key)
                if entry is None:
                    continue
                infos.append(
                    EntryInfo(
                        key=key,
                        step=name,
                        created_at=entry["created"],
                        last_used=last_used.get(key, entry["created"]),
                        size=sum(entry["sizes"]),
                        duration_seconds=entry["duration"],
                        pinned=key in pins,
                        code_hash=entry.get("code_hash"),
                    )
                )
        return infos

    def stats(self) -> dict[str, Any]:
        """Entries, bytes, hits and misses, in total and per step, and the one hit rate."""
        counters = self._meta(_STATS)
        pins = self.pins()
        per_step: dict[str, dict[str, Any]] = {}
        for info in self.entries():
            row = per_step.setdefault(info.step, {"entries": 0, "bytes": 0})
            row["entries"] += 1
            row["bytes"] += info.size
        for name in set(counters) | set(pins):
            per_step.setdefault(name, {"entries": 0, "bytes": 0})
        for name, row in per_step.items():
            hits, misses = counters.get(name, [0, 0])
            row.update(hits=hits, misses=misses, pinned=name in pins)
        hits, misses = (sum(row[k] for row in per_step.values()) for k in ("hits", "misses"))
        return {
            "path": str(self.path),
            "entries": sum(row["entries"] for row in per_step.values()),
            "bytes": sum(row["bytes"] for row in per_step.values()),
            "hits": hits,
            "misses": misses,
            "hit_rate": hit_rate(hits, misses),
            "steps": dict(sorted(per_step.items())),
        }

    def clear(self) -> None:
        """Forget everything: entries, pins, invalidations and counters."""
        with self._cache.transact():
            generation = self._cache.get(_GENERATION, 0)
            self._cache.clear()
            self._cache.set(_GENERATION, generation)
            self._deleted()

    def clear_step(self, step: str) -> int:
        """Forget one step's entries, pin and counters; returns how many entries went."""
        keys = self.versions(step)
        for key in keys:
            self.delete_entry(key)
        with self._cache.transact():
            self._cache.delete("versions:" + step)
            for name in (_PINS, _STATS, _INVALIDATED, _CURRENT):
                table = self._meta(name)
                if table.pop(step, None) is not None:
                    self._set_meta(name, table)
        return len(keys)

    # -- helpers ---------------------------------------------------------------------------

    def _meta(self, name: str) -> dict[str, Any]:
        raw = self._cache.get(name)
        if not raw:
            return {}
        try:
            table = json.loads(raw)
        except ValueError:
            warnings.warn(
                f"cache metadata {name} in {self.path} was unreadable; reset", stacklevel=2
            )
            return {}
        return table if isinstance(table, dict) else {}

    def _set_meta(self, name: str, table: dict[str, Any]) -> None:
        self._cache.set(name, json.dumps(table, separators=(",", ":")))

    def _keys(self, prefix: str) -> Iterator[str]:
        for key in self._cache.iterkeys():
            if isinstance(key, str) and key.startswith(prefix):
                yield key


def _ensure_private_dir(path: Path) -> None:
    """Create the cache dir 0700, and refuse one that others could have written pickles into."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError as exc:
        raise CacheError(f"cannot create the cache dir {path}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise CacheError(f"the cache dir {path} is not a directory; pass another --cache-dir")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise CacheError(
            f"the cache dir {path} belongs to another user (uid {info.st_uid}); cached results "
            "are pickles and are only loaded from a directory private to you: use --cache-dir"
        )
    if info.st_mode & 0o022:
        raise CacheError(
            f"the cache dir {path} is writable by other users; cached results are pickles and "
            f"are only loaded from a directory private to you: run `chmod 700 {path}`"
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
