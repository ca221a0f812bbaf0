"""Short, human previews of output values, stored with the entry so cached steps show them too."""

from __future__ import annotations

import reprlib
from typing import Any

_MAX_CHARS = 600
_repr = reprlib.Repr()
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 8
_repr.maxstring = _repr.maxother = 120
_repr.maxlevel = 3


_SCALARS = {int: "int", float: "float", bool: "bool", type(None): "NoneType"}
"""Builtin scalars, whose preview is their type and `repr` (as `_repr` writes it while it
is at most `_repr.maxlong` long): a step returning a number skips `reprlib`'s dispatch."""


def preview(value: Any) -> str:
    """Type, size or shape, and the head of a value; never raises, never runs long."""
    name = _SCALARS.get(type(value))
    if name is not None:
        text = repr(value)
        if len(text) <= _repr.maxlong:
            return f"{name}\n{text}"
    try:
        text = _describe(value)
    except Exception as exc:  # a user __repr__ that raises must not fail the step
        text = f"{_type_name(value)} (no preview: {type(exc).__name__})"
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def _describe(value: Any) -> str:
    kind = _type_name(value)
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and hasattr(value, "dtype") and not hasattr(value, "columns"):
        return f"{kind} shape={shape} dtype={value.dtype}\n{_repr.repr(_head_of_array(value))}"
    if isinstance(shape, tuple) and hasattr(value, "head") and hasattr(value, "columns"):
        return f"{kind} shape={shape} columns={list(value.columns)[:12]}\n{value.head(5)}"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"{kind} len={len(value)}\n{_repr.repr(value)}"
    if isinstance(value, (str, bytes)):
        return f"{kind} len={len(value)}\n{_repr.repr(value)}"
    return f"{kind}\n{_repr.repr(value)}"


def _head_of_array(array: Any) -> Any:
    try:
        return array.ravel()[:8].tolist()
    except Exception:
        return array


def _type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
