"""The code diff of each step whose code differs between two recorded runs.

A run record keeps a diff only for a step that re-ran because its code changed, and against
whatever that run was compared with; two runs far apart (or a cached step in run B) have none.
Both runs' entries name their functions' source hashes and the store keeps the sources, so
the diff from A to B is rebuilt from there, whenever the entries are still in the cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.cache import CacheStore, store_path
from ..engine.describe.reasons import changed_functions, code_diff

Record = Mapping[str, Any]


def code_diffs(record_a: Record, record_b: Record) -> dict[str, str]:
    """Step name -> unified diff from its code in run A to its code in run B, for the steps
    whose code hash differs and whose two entries (and their sources) are still stored."""
    pairs = _changed_pairs(record_a, record_b)
    cache_dir = record_b.get("cache_dir") or record_a.get("cache_dir")
    if not pairs or not cache_dir or not store_path(cache_dir).is_dir():
        return {}
    store = CacheStore(store_path(cache_dir))
    try:
        diffs = {}
        for name, (key_a, key_b) in pairs.items():
            entry_a, entry_b = store.get_entry(key_a), store.get_entry(key_b)
            if entry_a is None or entry_b is None:
                continue  # evicted or cleared: the record's own diff is all there is
            new = entry_b.functions
            names = changed_functions(entry_a.functions, new)
            sources = {
                qualname: store.source(new[qualname]) or "" for qualname in names if qualname in new
            }
            diff = code_diff(
                names, entry_a.functions, new, sources, store.source, labels=("run A", "run B")
            )
            if diff:
                diffs[name] = diff
        return diffs
    finally:
        store.close()


def _changed_pairs(record_a: Record, record_b: Record) -> dict[str, tuple[str, str]]:
    """Step -> (entry key in A, entry key in B) for steps with a different code hash."""
    steps_a = {step["name"]: step for step in record_a.get("steps", [])}
    pairs = {}
    for b in record_b.get("steps", []):
        a = steps_a.get(b["name"])
        if a is None or not (a.get("key") and b.get("key")):
            continue
        if a.get("code_hash") and b.get("code_hash") and a["code_hash"] != b["code_hash"]:
            pairs[b["name"]] = (a["key"], b["key"])
    return pairs
