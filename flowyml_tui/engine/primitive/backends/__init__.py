"""Where a call cache keeps its entries: the tier protocol its tiers implement, and the
backend protocol users (and TTA.dev code) pass as `CachePrimitive(..., backend=...)`.

memory    exact-LRU memory tier (the fastest)
disk      private diskcache tier, checksum-verified values
auto      the default: disk under the running pipeline's cache dir, memory elsewhere
redis     the team's Redis, records signed and bound to their key

`CallTier` is what `CachePrimitive` talks to: synchronous, with each entry's deadline and
cost. `CacheBackend` is TTA.dev's shape, three async methods: `InMemoryBackend` and
`RedisBackend` implement it, and `UserTier` makes any object that does into a tier.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .memory import EXPIRED, HIT, MISS, NEVER, MemoryTier

__all__ = ["CacheBackend", "CallTier", "InMemoryBackend", "RedisBackend", "UserTier"]


class CallTier(Protocol):
    """One place a call cache's entries live. An entry is (value, deadline, cost): the
    deadline by the primitive's clock, the cost the seconds the call took."""

    kind: str
    """"memory", "disk", "auto", "redis" or "backend": named in messages and stats."""
    speed: float
    """Lower is faster: nested primitives look their tiers up fastest first."""

    @property
    def path(self) -> Path | None:
        """The directory holding the entries now (a disk tier's), else None."""
        ...

    def peek(self, key: str, now: float) -> tuple[bool, Any, float, float]:
        """(found, value, deadline, cost) of a live entry; counts and removes nothing."""
        ...

    def get(self, key: str, now: float) -> tuple[str, Any, float, float]:
        """HIT with value, deadline and cost; MISS; or EXPIRED (the entry is dropped)."""
        ...

    def set(self, key: str, value: Any, expires: float, cost: float = 0.0) -> None: ...

    def delete(self, key: str) -> bool: ...

    def clear(self) -> None: ...

    def keys(self) -> list[str]: ...

    def size(self) -> int: ...

    def evict_expired(self, now: float) -> int:
        """Drop entries whose deadline passed; how many."""
        ...

    def close(self) -> None:
        """Release files or connections (the tier reopens them on next use)."""
        ...


@runtime_checkable
class CacheBackend(Protocol):
    """TTA.dev's cache backend: any object with these three async methods is one."""

    async def get(self, key: str) -> Any:
        """The value stored under `key`, or None."""
        ...

    async def set(self, key: str, value: Any, ttl_seconds: float | None = None) -> None:
        """Store `value` under `key`, for `ttl_seconds` (None: no expiry)."""
        ...

    async def delete(self, key: str) -> None: ...


class _TierBackend:
    """The `CacheBackend` methods over one of our own call tiers."""

    _tier: CallTier

    async def get(self, key: str) -> Any:
        status, value, _, _ = self._tier.get(key, time.time())
        return value if status == HIT else None

    async def set(self, key: str, value: Any, ttl_seconds: float | None = None) -> None:
        expires = NEVER if ttl_seconds is None else time.time() + ttl_seconds
        self._tier.set(key, value, expires)

    async def delete(self, key: str) -> None:
        self._tier.delete(key)

    def tier(self) -> CallTier:
        """Its entries as a call tier (a CachePrimitive uses it directly, no event loop)."""
        return self._tier


class InMemoryBackend(_TierBackend):
    """A `CacheBackend` in this process's memory (TTA.dev's default backend)."""

    def __init__(self, max_size: int = 1000) -> None:
        self.max_size = max_size
        self._tier = MemoryTier(max_size)

    def __reduce__(self) -> tuple[Any, ...]:  # to a worker process: a new, empty one
        return (InMemoryBackend, (self.max_size,))


class RedisBackend(_TierBackend):
    """A `CacheBackend` in the team's Redis: values pickled, records signed with the team
    secret and bound to their key (`FLOWYML_TUI_SECRET`), as the shared step cache's are."""

    def __init__(self, url: str | None = None, prefix: str = "cache") -> None:
        from .redis import RedisTier, redis_url_of

        self.url = redis_url_of(url)
        self.prefix = prefix
        self._tier = RedisTier(self.url, prefix, None)

    def __reduce__(self) -> tuple[Any, ...]:  # to a worker process: the same Redis
        return (RedisBackend, (self.url, self.prefix))


class UserTier:
    """A call tier over any `CacheBackend`. Entries are stored as (value, deadline, cost)
    under the primitive's name; the backend's own TTL is set from the deadline.

    The backend's coroutines run on a private event loop in a helper thread, so the tier
    works from sync `call()` and from inside a running loop (`await execute()`) alike. The
    protocol cannot list keys: `keys()`, `size()` and `clear()` know the keys this process
    wrote.
    """

    kind = "backend"
    speed = 1.5
    path = None

    def __init__(self, backend: CacheBackend, name: str) -> None:
        self.backend = backend
        self._prefix = f"{len(name)}:{name}"
        self._written: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="call-cache-backend", daemon=True
                ).start()
                self._loop = loop
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _name(self, key: str) -> str:
        return f"{self._prefix}{len(key)}:{key}"

    def peek(self, key: str, now: float) -> tuple[bool, Any, float, float]:
        record = self._run(self.backend.get(self._name(key)))
        if not isinstance(record, tuple) or len(record) != 3 or now >= record[1]:
            return False, None, 0.0, 0.0
        value, expires, cost = record
        return True, value, expires, cost

    def get(self, key: str, now: float) -> tuple[str, Any, float, float]:
        record = self._run(self.backend.get(self._name(key)))
        if not isinstance(record, tuple) or len(record) != 3:
            return MISS, None, 0.0, 0.0
        value, expires, cost = record
        if now >= expires:
            self.delete(key)
            return EXPIRED, None, 0.0, 0.0
        return HIT, value, expires, cost

    def set(self, key: str, value: Any, expires: float, cost: float = 0.0) -> None:
        ttl = None if expires == NEVER else max(expires - time.time(), 0.001)
        self._run(self.backend.set(self._name(key), (value, expires, cost), ttl))
        self._written.add(key)

    def delete(self, key: str) -> bool:
        self._run(self.backend.delete(self._name(key)))
        was = key in self._written
        self._written.discard(key)
        return was

    def clear(self) -> None:
        for key in list(self._written):
            self.delete(key)

    def keys(self) -> list[str]:
        return sorted(self._written)

    def size(self) -> int:
        return len(self._written)

    def evict_expired(self, now: float) -> int:
        dead = 0
        for key in list(self._written):
            if self.get(key, now)[0] == EXPIRED:
                dead += 1
        return dead

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
