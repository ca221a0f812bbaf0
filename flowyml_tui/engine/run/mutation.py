"""Which values a step cannot change in place, so the after-step re-fingerprint can skip them."""

from __future__ import annotations

import datetime as _dt
import uuid
from decimal import Decimal
from typing import Any

_ATOMIC: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        range,
        Decimal,
        _dt.date,
        _dt.datetime,
        _dt.time,
        _dt.timedelta,
        uuid.UUID,
    }
)
"""Fraction is left out: importing `fractions` costs every start, and a Fraction taken for
mutable costs only one re-fingerprint."""
_LARGEST_WALK = 1000
"""Containers longer than this are re-fingerprinted rather than walked item by item."""


def is_immutable(value: Any, depth: int = 0) -> bool:
    """True for exact builtin immutable types, and tuples/frozensets of them.

    Subclasses count as mutable (they can carry attributes), and so does anything unknown:
    a wrong "mutable" costs one fingerprint, a wrong "immutable" would miss a change.
    """
    cls = type(value)
    if cls in _ATOMIC:
        return True
    if cls is tuple or cls is frozenset:
        if depth > 8 or len(value) > _LARGEST_WALK:
            return False
        return all(is_immutable(item, depth + 1) for item in value)
    return False
