"""Many `diskcache.Cache.get` calls as one SELECT: diskcache has no multi-get.

A fresh process (every TUI run is one) reads each step's entry metadata once; one query per
step cost a 1000-step DAG about as much as the rest of its cached run. This is the fast path
of diskcache 5's own `Cache.get` (no statistics, `eviction_policy="none"`, so a read writes
nothing), for a list of keys: the same columns, the same expiry test, and values through the
cache's `Disk.fetch` (our `SafeDisk`, which refuses pickled rows).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import diskcache

_CHUNK = 500
"""Keys per query: well under SQLite's limit on bound parameters (999 in old builds)."""

_SELECT = (
    "SELECT key, raw, mode, filename, value FROM Cache"
    " WHERE key IN ({marks}) AND (expire_time IS NULL OR expire_time > ?)"
)


def get_many(cache: diskcache.Cache, keys: Sequence[str]) -> dict[str, Any]:
    """Key -> value for the keys present; absent, expired or refused rows are left out.

    Only for a cache whose reads write nothing (no statistics, `eviction_policy="none"`, as
    `LocalStore` opens it): otherwise a read must update rows, which this does not do.
    """
    if cache.statistics or cache.eviction_policy != "none":
        raise ValueError(
            "get_many reads without writing: open the cache with statistics=False and "
            'eviction_policy="none"'
        )
    disk = cache.disk
    found = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = [disk.put(key)[0] for key in keys[start : start + _CHUNK]]
        sql = _SELECT.format(marks=",".join("?" * len(chunk)))
        rows = cache._sql(sql, (*chunk, time.time())).fetchall()  # diskcache 5 (module doc)
        for db_key, raw, mode, filename, value in rows:
            if not raw:  # a pickled key: never one of ours
                continue
            try:
                found[disk.get(db_key, raw)] = disk.fetch(mode, filename, value, False)
            except OSError:  # deleted meanwhile (as `Cache.get`), or refused by SafeDisk
                continue
    return found
