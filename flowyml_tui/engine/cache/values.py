"""Turning outputs into bytes and guarding those bytes: shared by every store."""

from __future__ import annotations

import pickle
from typing import Any

import xxhash


def checksum(data: bytes) -> str:
    """xxh3-64 of a value's bytes: guards the private local store against corruption (a
    tier others can write needs a cryptographic digest instead)."""
    return xxhash.xxh3_64_hexdigest(data)


def serialize(value: Any) -> tuple[bytes, str]:
    """Pickle a value, falling back to cloudpickle for lambdas, local classes and the like."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), "pickle"
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), "cloudpickle"
