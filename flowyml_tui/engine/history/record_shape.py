"""The shape a stored run record must have to be shown: checked once, when it is read.

A record is a file anyone can edit, truncate or half-overwrite; `runs`, `report` and the TUI
index into it freely. So a record is converted into these lenient Structs (a missing field
gets its default, an unknown one is kept, a wrong type fails) before anything reads it: a
record with `"steps": null` or a string `started_at` is skipped with a warning instead of
raising a traceback halfway through a report.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..reads.model import Read


class _Log(msgspec.Struct, kw_only=True):
    lines: list[str] = []
    total_lines: int = 0
    truncated: bool = False


class _Call(msgspec.Struct, kw_only=True):
    name: str
    hits: int = 0
    misses: int = 0
    saved_seconds: float = 0.0
    places: list[str] = []
    saved_cost: float = 0.0
    spent_cost: float = 0.0


class _Savings(msgspec.Struct, kw_only=True):
    time_saved_s: float = 0.0
    calls_saved: int = 0
    cost_saved: float = 0.0
    cost_spent: float = 0.0


class _CacheCost(msgspec.Struct, kw_only=True):
    load_s: float = 0.0
    store_s: float = 0.0
    bytes: int = 0


class _Step(msgspec.Struct, kw_only=True):
    name: str
    status: str = ""
    reason: str = ""
    reason_kind: str = ""
    cached: bool = False
    started_at: float | None = None
    offset_seconds: float | None = None
    duration_seconds: float = 0.0
    saved_seconds: float = 0.0
    cache: str = ""
    key: str | None = None
    code_hash: str | None = None
    changed: list[str] = []
    diff: str | None = None
    error: str | None = None
    inputs: list[str] = []
    outputs: list[str] = []
    upstream: list[str] = []
    source_file: str | None = None
    source_line: int | None = None
    input_fingerprints: dict[str, str] = {}
    output_fingerprints: dict[str, str] = {}
    output_sizes: dict[str, int] = {}
    output_previews: dict[str, str] = {}
    log: _Log = msgspec.field(default_factory=_Log)
    warnings: list[str] = []
    calls: list[_Call] = []
    reads: list[Read] = []
    savings: _Savings = msgspec.field(default_factory=_Savings)


class _Totals(msgspec.Struct, kw_only=True):
    steps: int = 0
    executed: int = 0
    cached: int = 0
    pinned: int = 0
    failed: int = 0
    skipped: int = 0
    hit_rate: float | None = None
    saved_seconds: float = 0.0
    call_saved_seconds: float = 0.0


class _Warning(msgspec.Struct, kw_only=True):
    message: str
    step: str | None = None


class _Record(msgspec.Struct, kw_only=True):
    schema_version: int
    run_id: str
    pipeline: str = ""
    source_file: str | None = None
    cache_dir: str | None = None
    status: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    duration_seconds: float = 0.0
    error: str | None = None
    recorded_at: float = 0.0
    context: dict[str, str] = {}
    totals: _Totals = msgspec.field(default_factory=_Totals)
    steps: list[_Step] = []
    warnings: list[_Warning] = []
    savings: _Savings = msgspec.field(default_factory=_Savings)
    cost_per_hour: float | None = None
    currency: str | None = None
    step_rates: dict[str, float] = {}
    cache_check_s: float = 0.0
    cache_costs: dict[str, _CacheCost] = {}
    cache_flags: dict[str, str] = {}


def checked_record(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with every known field of the right type (defaults filled in), unknown fields
    kept; raises ValueError saying which field is wrong."""
    try:
        shape = msgspec.convert(data, _Record)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None
    checked = msgspec.to_builtins(shape)
    raw_steps = data.get("steps") or []
    checked["steps"] = [
        {**raw, **step, "log": {**(raw.get("log") or {}), **step["log"]}}
        for raw, step in zip(raw_steps, checked["steps"], strict=True)
    ]
    return {**data, **checked}
