"""Reading the store's JSON metadata (meta tables, version lists) with its shape checked.

A row can hold anything after a crash, a bad disk or a hand edit: `null`, bad JSON, a list
where a table belongs, a string where a count belongs. Every read goes through a typed
msgspec decoder (no slower than an untyped one); on a mismatch the good parts are kept, the
bad ones dropped, and the caller is told so it can warn and rewrite the row.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

_Count = Annotated[int, msgspec.Meta(ge=0)]
Counts = tuple[_Count, _Count]
"""(hits, misses) of one step, a JSON pair: a tuple, which the collector stops tracking (a
10,000-step pipeline's lists set off a full collection of their own)."""

PER_STEP_KEY = dict[str, dict[str, str]]
PER_STEP_TIME = dict[str, dict[str, int]]
PER_STEP_COUNTS = dict[str, dict[str, Counts]]


class CacheVerdicts(msgspec.Struct, omit_defaults=True):
    """One pipeline's last measured check time and the steps whose cache does not pay
    (`breakeven.py`): small, read by every run; the steps' figures are a row of their own,
    read only by a run that measured something of a step."""

    check_s: float | None = None
    """What asking for a hit took a step, last measured."""
    flags: dict[str, str] = {}
    """Step -> why its cache costs more than recomputing it (only such steps)."""


PER_PIPELINE_VERDICTS = dict[str, CacheVerdicts]
PER_STEP_FIGURES = dict[str, dict[str, dict[str, float]]]
"""Step -> its last measured cache figures: compute_s, load_s, store_s, bytes."""
PER_ENTRY_TIME = dict[str, float]
VERSIONS = list[str]

_DECODERS: dict[Any, msgspec.json.Decoder] = {}
_ANY = msgspec.json.Decoder()


def decode(raw: object, shape: Any) -> tuple[Any, bool]:
    """(value of `shape`, ok): `raw` decoded and checked; when not ok, what could be saved."""
    empty = [] if shape is VERSIONS else {}
    if raw is None:
        return empty, True
    if not isinstance(raw, (bytes, str)):
        return empty, False  # a pickled object where JSON belongs: never trusted
    decoder = _DECODERS.get(shape)
    if decoder is None:
        decoder = _DECODERS[shape] = msgspec.json.Decoder(shape)
    try:
        return decoder.decode(raw), True
    except msgspec.ValidationError:
        pass  # a wrong item met before the end: the rest may not even be JSON
    except msgspec.DecodeError:
        return empty, False
    try:
        return _salvage(_ANY.decode(raw), shape), False
    except msgspec.DecodeError:  # `[1, 2`: the typed pass stopped at `1`, before the cut
        return empty, False


def _salvage(value: Any, shape: Any) -> Any:
    """The parts of a decoded value that have the right shape, one item at a time."""
    if shape is VERSIONS:
        return [k for k in value if isinstance(k, str)] if isinstance(value, list) else []
    if not isinstance(value, dict):
        return {}
    (_, inner) = shape.__args__
    kept = {}
    for name, item in value.items():
        try:
            kept[name] = msgspec.convert(item, inner)
        except msgspec.ValidationError:
            if getattr(inner, "__origin__", None) is dict and isinstance(item, dict):
                kept[name] = _salvage(item, inner)
    return kept
