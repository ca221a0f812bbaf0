"""Where entries live: the entry type, the two store protocols, and the local store.

`EntryStore` (content, shareable) and `Workspace` (pins, marks, counters: never shared) are the
seams; `LocalStore` on diskcache implements both; `open_store(spec)` builds one from a path.
`CacheStore` is the public, flowyml-style name users construct.
"""

from __future__ import annotations

from .entry import KEY_FORMAT, Entry, StoredRecipe, decode_entry, encode_entry
from .facade import CacheStore
from .local import DEFAULT_CACHE_DIR, DEFAULT_SIZE_LIMIT, LocalStore
from .location import store_path
from .open import open_store
from .protocols import CorruptEntry, EntryInfo, EntryStore, Store, Workspace
from .values import NotCacheable, checksum, serialize, serialize_outputs

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_SIZE_LIMIT",
    "KEY_FORMAT",
    "CacheStore",
    "CorruptEntry",
    "Entry",
    "EntryInfo",
    "EntryStore",
    "LocalStore",
    "NotCacheable",
    "Store",
    "StoredRecipe",
    "Workspace",
    "checksum",
    "decode_entry",
    "encode_entry",
    "open_store",
    "serialize",
    "serialize_outputs",
    "store_path",
]
