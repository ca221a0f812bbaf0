"""The memory tier: an exact-LRU dict with a deadline per entry, safe across threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

HIT, MISS, EXPIRED = "hit", "miss", "expired"
NEVER = float("inf")


class MemoryTier:
    """Holds the value objects themselves (no copy, no pickling): the fastest tier."""

    kind = "memory"
    speed = 0
    path = None

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[Any, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: str, now: float) -> tuple[bool, Any, float, float]:
        """A live entry (refreshing its LRU place) or nothing; counts nothing, removes nothing.

        The last two are the entry's deadline and its cost: the seconds the call took.

        Lock-free, the hit path: each OrderedDict call is atomic under the GIL, and an entry
        evicted between the two calls was still a valid answer when it was read.
        """
        entry = self._entries.get(key)
        if entry is None or now >= entry[1]:
            return False, None, 0.0, 0.0
        try:  # noqa: SIM105 (contextlib.suppress costs more than the lookup)
            self._entries.move_to_end(key)
        except KeyError:
            pass
        return True, entry[0], entry[1], entry[2]

    def get(self, key: str, now: float) -> tuple[str, Any, float, float]:
        """HIT with the value, deadline and cost, MISS, or EXPIRED (the entry is then dropped)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return MISS, None, 0.0, 0.0
            if now >= entry[1]:
                del self._entries[key]
                return EXPIRED, None, 0.0, 0.0
            self._entries.move_to_end(key)
            return HIT, entry[0], entry[1], entry[2]

    def set(self, key: str, value: Any, expires: float, cost: float = 0.0) -> None:
        with self._lock:
            self._entries[key] = (value, expires, cost)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def size(self) -> int:
        return len(self._entries)

    def evict_expired(self, now: float) -> int:
        with self._lock:
            dead = [key for key, (_, expires, _) in self._entries.items() if now >= expires]
            for key in dead:
                del self._entries[key]
            return len(dead)

    def close(self) -> None:
        """Nothing to release: the entries are this process's objects."""
