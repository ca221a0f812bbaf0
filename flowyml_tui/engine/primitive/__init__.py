"""The call-level cache: `CachePrimitive` and the `WorkflowContext` its calls are made in.

context   WorkflowContext (seed + TTA.dev fields)
memory    exact-LRU memory tier
disk      private diskcache tier, checksum-verified values
auto      the default: disk under the running pipeline's cache dir, memory elsewhere
redis_calls  the team's Redis, HMAC-signed, SHA-256-verified values
flight    single-flight for concurrent identical misses
metrics   optional Prometheus metrics: plain counts per cache name
scrape    the collector that exports them when Prometheus scrapes
tally     a lock-free counter
core      CachePrimitive: keys, tiers in order, backfill, failure handling
"""

from __future__ import annotations

from .context import WorkflowContext
from .core import CachePrimitive
from .errors import CallCacheError

__all__ = ["CachePrimitive", "CallCacheError", "WorkflowContext"]
