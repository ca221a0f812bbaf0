"""The call-level cache: `CachePrimitive` and the `WorkflowContext` its calls are made in.

context   WorkflowContext (seed + TTA.dev fields)
backends/ where entries live: the CallTier and CacheBackend protocols; memory, disk, auto
          (disk inside a run, memory elsewhere) and redis tiers; InMemoryBackend,
          RedisBackend, and UserTier for any object with async get/set/delete
flight    single-flight for concurrent identical misses
metrics   optional Prometheus metrics: plain counts per cache name (series.py)
scrape    the collector that exports them when Prometheus scrapes
tally     a lock-free counter
core      CachePrimitive: keys, tiers in order, backfill, failure handling
"""

from __future__ import annotations

from .context import WorkflowContext
from .core import CachePrimitive
from .errors import CallCacheError

__all__ = ["CachePrimitive", "CallCacheError", "WorkflowContext"]
