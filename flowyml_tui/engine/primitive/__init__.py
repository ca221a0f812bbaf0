"""The call-level cache: `CachePrimitive` and the `WorkflowContext` its calls are made in.

context   WorkflowContext (seed + TTA.dev fields)
memory    exact-LRU memory tier
disk      private diskcache tier, checksum-verified values
flight    single-flight for concurrent identical misses
metrics   optional prometheus_client counters
core      CachePrimitive: keys, tiers in order, backfill, failure handling
"""

from __future__ import annotations

from .context import WorkflowContext
from .core import CachePrimitive
from .errors import BackendNotBuilt, CallCacheError

__all__ = ["BackendNotBuilt", "CachePrimitive", "CallCacheError", "WorkflowContext"]
