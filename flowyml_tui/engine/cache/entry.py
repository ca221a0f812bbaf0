"""`Entry`: one cached version of one step, typed, frozen and validated when read.

Metadata is the one thing read from disk (or, later, from a shared tier) on every cached run,
so it is decoded into a msgspec Struct: a missing field, a wrong type or lists of different
lengths fail to decode, and the store treats that entry as a miss instead of crashing later.
"""

from __future__ import annotations

import msgspec

from ..reads.model import Read

KEY_FORMAT = 3
"""Bumped whenever what a key covers or how an entry is laid out changes: entries written by
another format never match (the digest includes it) and a store of another layout is emptied."""


class StoredRecipe(msgspec.Struct, frozen=True, kw_only=True, gc=False):  # strings only: no cycle
    """The part of a `Recipe` kept with the entry, so a later miss can say what changed."""

    policy: str
    code_hash: str | None = None
    inputs: dict[str, str] = {}
    context: dict[str, str] = {}
    custom_key: str | None = None
    context_shown: dict[str, str] = {}
    """context parameter -> its value's short text (`describe/context_text.py`): says what it
    was, not a key."""


class Entry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the store keeps about one result besides its values."""

    key: str
    pipeline: str
    step: str
    created: float
    """Unix time, for TTLs and listings."""
    created_ns: int
    """The same instant in ns, compared with invalidation marks."""
    duration: float
    """Seconds the step took: what a hit saves."""
    policy: str
    code_hash: str | None
    functions: dict[str, str]
    """Qualified name -> hash of each function or constant in the code identity (for diffs)."""
    recipe: StoredRecipe
    # Tuples, not lists: the JSON is the same, and a tuple of strings or ints is one the
    # collector stops tracking. Lists were 7 of a cold step's 11 objects that lived to the
    # end of its run, and scanned by every full collection of a big one (`settled.py`).
    outputs: tuple[str, ...]
    output_fps: tuple[str, ...]
    sizes: tuple[int, ...]
    checksums: tuple[str, ...]
    formats: tuple[str, ...]
    previews: tuple[str, ...]
    reads: tuple[Read, ...] = ()
    """The world the result depends on besides its key: checked before it is served."""

    def __post_init__(self) -> None:
        count = len(self.outputs)
        for name in ("output_fps", "sizes", "checksums", "formats", "previews"):
            if len(getattr(self, name)) != count:
                raise ValueError(f"{name} has {len(getattr(self, name))} items for {count} outputs")


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Entry)


def encode_entry(entry: Entry) -> bytes:
    return _ENCODER.encode(entry)


def decode_entry(raw: bytes | str) -> Entry:
    """Decode and validate; raises `msgspec.ValidationError`/`DecodeError` on a bad entry."""
    return _DECODER.decode(raw)
