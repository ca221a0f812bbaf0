"""The disk tier: values in a private diskcache, checked by checksum before they are unpickled.

Each primitive name gets its own directory (so a `key_fn`'s strings never meet another
primitive's). Values are pickles, so the tier is held to the step store's rules: every directory
it opens is created 0700, or refused (never chmodded) when it is a symlink, another user's or
writable by others; its database is created 0600; and diskcache reads it through `SafeDisk`,
which never unpickles a row (or key) diskcache itself would have pickled, so a row planted with
a plain `diskcache.Cache` reads as a miss. The record is
``magic | deadline | cost | xxh3 | kind | pickle`` (cost: the seconds the call took, for "time
saved"): an expired entry is dropped from its header alone, and bytes that do not match their
checksum are never unpickled.

Eviction past `max_size` is approximate: the first-stored entries go first. Exact LRU would need
diskcache's LRU policy, which writes on every read (3-6x the cost of a plain `get`).
"""

from __future__ import annotations

import os
import pickle
import re
import struct
from pathlib import Path
from typing import Any

import diskcache
import xxhash

from ...cache.private import check_private_path, ensure_private_dir, ensure_private_file
from ...cache.safedisk import SafeDisk
from ...cache.values import checksum, serialize
from .memory import EXPIRED, HIT, MISS

FORMAT = "v2"
_MAGIC = b"FCP2"
_HEADER = struct.Struct("<4sdd16sB")
_KINDS = {"pickle": 0, "cloudpickle": 1}


class CorruptRecord(Exception):
    """Bytes on disk that are not a record this tier wrote, or that fail their checksum."""


def default_root() -> Path:
    """Outside a pipeline run, call caches live under the user's cache dir."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("flowyml-tui")) / "calls"


def open_private(slot: Path) -> diskcache.Cache:
    """The slot's diskcache, once every path above it that we own and the database are checked
    private (created 0700/0600 if missing); raises CacheError naming what to fix otherwise."""
    for directory in (slot.parent.parent, slot.parent, slot):
        ensure_private_dir(directory, "call cache dir")
    ensure_private_file(slot / "cache.db", "call cache database")
    for suffix in ("-wal", "-shm", "-journal"):
        side = slot / ("cache.db" + suffix)
        if os.path.lexists(side):
            check_private_path(side, "call cache database file", is_dir=False)
    # "none": reads never write, and we cull by count ourselves.
    return diskcache.Cache(str(slot), disk=SafeDisk, eviction_policy="none")


def slot_dir(root: Path, name: str) -> Path:
    """The directory of one primitive name: readable slug plus a digest, so names never clash."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "call"
    return Path(root) / FORMAT / f"{slug}-{xxhash.xxh3_64_hexdigest(name.encode())[:12]}"


def encode(value: Any, expires: float, cost: float = 0.0) -> bytes:
    payload, kind = serialize(value)
    digest = checksum(payload).encode("ascii")
    return _HEADER.pack(_MAGIC, expires, cost, digest, _KINDS[kind]) + payload


def deadline(record: bytes) -> float:
    if len(record) < _HEADER.size or record[:4] != _MAGIC:
        raise CorruptRecord("not a call-cache record")
    return _HEADER.unpack_from(record)[1]


def cost_of(record: bytes) -> float:
    return _HEADER.unpack_from(record)[2]


def decode(record: bytes) -> Any:
    digest = _HEADER.unpack_from(record)[3]
    payload = memoryview(record)[_HEADER.size :]
    if checksum(payload).encode("ascii") != digest:
        raise CorruptRecord("checksum mismatch")
    return pickle.loads(payload)


def clear_slot(path: str | Path) -> int:
    """Empty one primitive's directory (a `CallStats.places` entry); returns how many entries
    went. Refuses a path that is not a call-cache slot, so a stray record deletes nothing else."""
    slot = Path(path)
    if slot.parent.name != FORMAT or not (slot / "cache.db").is_file() or slot.is_symlink():
        raise ValueError(f"{slot} is not a call-cache directory; nothing was deleted")
    with open_private(slot) as cache:
        return int(cache.clear())


class DiskTier:
    """One primitive's entries in one diskcache directory; opened on first use."""

    kind = "disk"
    speed = 1

    def __init__(self, root: Path, name: str, max_size: int) -> None:
        self.root = Path(root)
        self.path = slot_dir(self.root, name)
        self.max_size = max_size
        self._cache: diskcache.Cache | None = None

    @property
    def cache(self) -> diskcache.Cache:
        if self._cache is None:
            self._cache = open_private(self.path)
        return self._cache

    def _read(self, key: str, now: float, *, drop: bool) -> tuple[str, Any, float, float]:
        cache = self.cache
        record = cache.get(key)
        if record is None:
            return MISS, None, 0.0, 0.0
        try:
            expires = deadline(record)
            if now >= expires:
                if drop:
                    cache.delete(key)
                return EXPIRED, None, 0.0, 0.0
            return HIT, decode(record), expires, cost_of(record)
        except (CorruptRecord, pickle.UnpicklingError, EOFError, struct.error):
            cache.delete(key)
            raise

    def peek(self, key: str, now: float) -> tuple[bool, Any, float, float]:
        """A live entry or nothing; an expired one stays for `get` to count and drop."""
        status, value, expires, cost = self._read(key, now, drop=False)
        return status == HIT, value, expires, cost

    def get(self, key: str, now: float) -> tuple[str, Any, float, float]:
        return self._read(key, now, drop=True)

    def set(self, key: str, value: Any, expires: float, cost: float = 0.0) -> None:
        cache = self.cache
        cache.set(key, encode(value, expires, cost))
        while len(cache) > self.max_size:
            oldest, _ = cache.peekitem(last=False)
            cache.delete(oldest)

    def delete(self, key: str) -> bool:
        return bool(self.cache.delete(key))

    def clear(self) -> None:
        self.cache.clear()

    def keys(self) -> list[str]:
        return [key for key in self.cache.iterkeys() if type(key) is str]  # not a refused one

    def size(self) -> int:
        return len(self.cache)

    def evict_expired(self, now: float) -> int:
        cache = self.cache
        dead = 0
        for key in self.keys():
            record = cache.get(key)
            try:
                gone = record is not None and now >= deadline(record)
            except CorruptRecord:
                gone = True
            if gone and cache.delete(key):
                dead += 1
        return dead

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
