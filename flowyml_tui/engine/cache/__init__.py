"""Where entries live: the entry type and, as the seams land, the store protocols."""

from __future__ import annotations

from .entry import Entry, StoredRecipe, decode_entry, encode_entry

__all__ = ["Entry", "StoredRecipe", "decode_entry", "encode_entry"]
