"""The byte layer every digest is written in: fixed-width packing, type tags, the walk context.

Value fingerprints and code identities both stream into xxh3 hashers through these, so the
bytes a value turns into are decided in one place and stay equal in every process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from struct import Struct
from typing import Any

__all__ = [
    "MAX_INLINE",
    "Walk",
    "pack_c128",
    "pack_f64",
    "pack_i64",
    "pack_u64",
    "type_name",
    "type_tag",
    "write_text",
]

pack_u64 = Struct("<Q").pack
pack_i64 = Struct("<q").pack
pack_f64 = Struct("<d").pack
pack_c128 = Struct("<dd").pack

MAX_INLINE = 4096
"""Byte strings up to this size are joined to their header in one hasher update."""


class Walk:
    """Per-call state: containers being walked (for cycles) and how to treat code objects."""

    __slots__ = ("active", "on_code")

    def __init__(self, on_code: Callable[[Any], object] | None = None) -> None:
        self.active: dict[int, int] = {}
        # In code-identity mode, functions/classes met inside a constant are reported here and
        # fed by reference; the identity walk hashes their code itself.
        self.on_code = on_code


def type_name(cls: type) -> str:
    """`module.qualname`: a type's name as it is the same in every process."""
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


@functools.lru_cache(maxsize=4096)
def type_tag(cls: type) -> bytes:
    """A length-prefixed type name, so values of two types never encode alike."""
    name = type_name(cls).encode("utf-8", "surrogatepass")
    return b"~" + pack_u64(len(name)) + name


def write_text(h: Any, tag: bytes, data: bytes) -> None:
    """A tag, a length and the bytes: length-prefixed so adjacent strings never run together."""
    if len(data) <= MAX_INLINE:
        h.update(tag + pack_u64(len(data)) + data)
    else:
        h.update(tag + pack_u64(len(data)))
        h.update(data)
