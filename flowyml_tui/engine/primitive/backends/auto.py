"""The default tier: on disk under the running pipeline's cache dir, in memory outside a run.

Every TUI run is a fresh process, so a memory-only call cache would never hit from one save
to the next. A CachePrimitive created without `backend=` therefore keeps its entries in
`<cache_dir>/calls` while a step of a pipeline run calls it, and in memory anywhere else
(a script, a notebook, a test), as TTA.dev's own does.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ...call.scope import current_scope
from .disk import DiskTier
from .memory import MemoryTier


class AutoTier:
    """Delegates each operation to the tier of the current step's cache dir, or to memory."""

    kind = "auto"
    speed = 0.5
    """Memory outside a run, disk inside one: before an explicit disk tier, after memory."""

    def __init__(self, name: str, max_size: int) -> None:
        self.name = name
        self.max_size = max_size
        self.memory = MemoryTier(max_size)
        self._disks: dict[Path, DiskTier] = {}
        self._lock = threading.Lock()

    @property
    def current(self) -> MemoryTier | DiskTier:
        scope = current_scope()
        if scope is None or scope.directory is None:
            return self.memory
        disk = self._disks.get(scope.directory)
        if disk is None:
            with self._lock:
                disk = self._disks.setdefault(
                    scope.directory, DiskTier(scope.directory, self.name, self.max_size)
                )
        return disk

    @property
    def path(self) -> Path | None:
        tier = self.current
        return tier.path if isinstance(tier, DiskTier) else None

    def peek(self, key: str, now: float) -> tuple[bool, Any, float, float]:
        if current_scope() is None:  # the hit path outside a run: straight to memory
            return self.memory.peek(key, now)
        return self.current.peek(key, now)

    def get(self, key: str, now: float) -> tuple[str, Any, float, float]:
        return self.current.get(key, now)

    def set(self, key: str, value: Any, expires: float, cost: float = 0.0) -> None:
        self.current.set(key, value, expires, cost)

    def delete(self, key: str) -> bool:
        return self.current.delete(key)

    def clear(self) -> None:
        self.current.clear()

    def keys(self) -> list[str]:
        return self.current.keys()

    def size(self) -> int:
        return self.current.size()

    def evict_expired(self, now: float) -> int:
        return self.current.evict_expired(now)

    def close(self) -> None:
        with self._lock:
            for disk in self._disks.values():
                disk.close()
