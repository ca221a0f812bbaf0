"""The savings ledger over the run history: each step's lines from many run records, added up.

What `flowyml-tui savings`, the reports and the workbench show. Records from before the ledger
existed count as nothing saved (their `savings` is filled with zeros when they are read).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ..errors import FlowymlError
from .savings import NOTHING, Savings, total

_SPAN = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str) -> float:
    """Seconds in a span such as `7d`, `12h`, `30m`, `2w`; a FlowymlError if it is not one."""
    matched = _SPAN.fullmatch(text.strip())
    if matched is None:
        raise FlowymlError(
            f"--since {text!r} is not a span of time; give a number and a unit, such as "
            "30m, 12h, 7d or 2w"
        )
    return float(matched.group(1)) * _UNIT_SECONDS[matched.group(2)]


class StepLedger(msgspec.Struct, frozen=True):
    """One step's savings over the runs chosen."""

    pipeline: str
    step: str
    savings: Savings
    cache_flag: str | None = None
    """Why its cache costs more than recomputing it, as its newest run saw it; None: it pays."""


class History(msgspec.Struct, frozen=True):
    """The ledger over the runs chosen: per step, in total, and per run (oldest first)."""

    currency: str | None
    runs: int
    steps: list[StepLedger]
    total: Savings
    per_run: list[tuple[str, float, Savings]]
    """(run id, finished at, its savings) of each run, oldest first: for the charts."""
    priced: bool
    """Whether any run had a rate or a cost_fn's money: else the money columns are hidden."""


def savings_of(data: Mapping[str, Any] | None) -> Savings:
    """A record's `savings` object (run or step) as Savings; zeros when it has none."""
    if not data:
        return NOTHING
    return Savings(
        float(data.get("time_saved_s", 0.0)),
        int(data.get("calls_saved", 0)),
        float(data.get("cost_saved", 0.0)),
        float(data.get("cost_spent", 0.0)),
    )


def chosen(
    records: Iterable[Mapping[str, Any]],
    *,
    since_seconds: float | None = None,
    pipeline: str | None = None,
    now: float,
) -> list[Mapping[str, Any]]:
    """The records of `pipeline` (all without one) finished within `since_seconds` of now."""
    cutoff = None if since_seconds is None else now - since_seconds
    return [
        record
        for record in records
        if (pipeline is None or record.get("pipeline") == pipeline)
        and (cutoff is None or float(record.get("finished_at") or 0.0) >= cutoff)
    ]


def history(records: Iterable[Mapping[str, Any]]) -> History:
    """Add up the records' ledgers, per (pipeline, step) in first-seen order (oldest run first)."""
    ordered = sorted(records, key=lambda r: (float(r.get("finished_at") or 0.0), r["run_id"]))
    per_step: dict[tuple[str, str], Savings] = {}
    flags: dict[tuple[str, str], str | None] = {}
    per_run: list[tuple[str, float, Savings]] = []
    currencies: list[str] = []
    for record in ordered:
        pipeline = str(record.get("pipeline") or "")
        run_flags = record.get("cache_flags") or {}
        for step in record.get("steps") or []:
            key = (pipeline, str(step["name"]))
            per_step[key] = per_step.get(key, NOTHING) + savings_of(step.get("savings"))
            flags[key] = run_flags.get(step["name"])  # the newest run's word stands
        run_total = savings_of(record.get("savings"))
        per_run.append((str(record["run_id"]), float(record.get("finished_at") or 0.0), run_total))
        if record.get("currency"):
            currencies.append(str(record["currency"]))
    everything = total(line for _, _, line in per_run)
    return History(
        currency=currencies[-1] if currencies else None,
        runs=len(per_run),
        steps=[StepLedger(p, s, line, flags.get((p, s))) for (p, s), line in per_step.items()],
        total=everything,
        per_run=per_run,
        priced=bool(currencies) or everything.cost_saved > 0 or everything.cost_spent > 0,
    )


def mixed_currencies(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """The distinct currencies the records were priced in (more than one cannot be added)."""
    return {str(r["currency"]) for r in records if r.get("currency")}
