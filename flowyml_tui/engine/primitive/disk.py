"""The disk tier: values in a private diskcache, checked by checksum before they are unpickled.

Each primitive name gets its own directory (so a `key_fn`'s strings never meet another
primitive's), under a root that is created 0700 and refused when it is a symlink or belongs to
another user. The record is ``magic | deadline | cost | xxh3 | kind | pickle`` (cost: the
seconds the call took, for "time saved"): an expired entry is dropped from its header alone,
and bytes that do not match their checksum are never unpickled.

Eviction past `max_size` is approximate: the first-stored entries go first. Exact LRU would need
diskcache's LRU policy, which writes on every read (3-6x the cost of a plain `get`).
"""

from __future__ import annotations

import os
import pickle
import re
import stat
import struct
from pathlib import Path
from typing import Any

import diskcache
import xxhash

from ..cache.values import checksum, serialize
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


def private_dir(path: Path) -> Path:
    """Create `path` 0700 (parents too); refuse a symlink or a directory another user owns."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise PermissionError(f"call cache dir {path} is a symlink; give a real directory")
    if info.st_uid != os.getuid():
        raise PermissionError(
            f"call cache dir {path} belongs to another user (uid {info.st_uid}); "
            "give a directory of your own"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


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
    with diskcache.Cache(str(slot), eviction_policy="none") as cache:
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
            private_dir(self.root)
            private_dir(self.path)
            # "none": reads never write, and we cull by count ourselves.
            self._cache = diskcache.Cache(str(self.path), eviction_policy="none")
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
        return list(self.cache.iterkeys())

    def size(self) -> int:
        return len(self.cache)

    def evict_expired(self, now: float) -> int:
        cache = self.cache
        dead = 0
        for key in list(cache.iterkeys()):
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
