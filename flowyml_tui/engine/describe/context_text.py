"""Context values as a person reads them: a short, bounded repr kept beside fingerprints.

A key holds only fingerprints, which cannot say *what* changed. Run records and cache entries
keep these short texts as well, so a reason can read "context changed: n 10 -> 20" and
`report --compare` can list the values of two runs. Bounded (reprlib) so a large list or
string in the context costs little to show and little to store.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

MAX_CHARS = 60
"""Longer texts are cut with "..." (a value is shown, not serialised)."""

_REPR = reprlib.Repr()
_REPR.maxstring = MAX_CHARS
_REPR.maxother = MAX_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 6


def shown_value(value: Any) -> str:
    """A short text for one value; never raises (a repr that fails is named by its type)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a user's __repr__ may raise: the run must not
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."


def shown_context(values: Mapping[str, Any], names: Iterable[str] | None = None) -> dict[str, str]:
    """name -> short text, for `names` (all of `values` when None) that `values` holds."""
    keys = values if names is None else (name for name in names if name in values)
    return {name: shown_value(values[name]) for name in keys}
