"""A run's totals and its hit rate, defined once for every view of a run.

The CLI, the TUI, run records, reports and `CacheStore.stats()` all show a hit rate; each used
to count it its own way, so one run read 100% in one place and 67% in another. Here it is:

    hit rate = hits / (hits + executed + failed), hits = cached + pinned

A step with its cache off (`cache=False`, or a run without a cache) could never have hit, and a
skipped step never asked the cache, so neither is counted. With nothing left to count the rate
is `None` (null in a record, shown as a dash), not 0%: "no hit possible" is not "all missed".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .events import ReasonKind, StepFinished, StepStatus

CACHE_OFF = "off"
"""The cache strategy label of a `cache=False` step (`StepInfo.cache`, `StepFinished.cache`)."""


class StepTally(NamedTuple):
    """What the totals need to know of one step; every view of a run can say this much."""

    status: str
    cache: str = ""
    reason_kind: str = ""
    saved_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class RunTotals:
    """How a run went, step by step, in numbers; built only by `run_totals`."""

    steps: int = 0
    executed: int = 0
    cached: int = 0
    """Steps served from the cache, pinned ones included."""
    pinned: int = 0
    failed: int = 0
    skipped: int = 0
    uncached: int = 0
    """Executed or failed steps whose cache was off: they are left out of the hit rate."""
    saved_seconds: float = 0.0
    """What the cache hits took when they last ran."""

    @property
    def hits(self) -> int:
        return self.cached

    @property
    def misses(self) -> int:
        """Steps that asked the cache and had to run (whether they then succeeded or not)."""
        return self.executed + self.failed - self.uncached

    @property
    def hit_rate(self) -> float | None:
        return hit_rate(self.hits, self.misses)

    def to_dict(self) -> dict[str, Any]:
        """The `totals` object of a run record (see run_record.schema.json)."""
        return {
            "steps": self.steps,
            "executed": self.executed,
            "cached": self.cached,
            "pinned": self.pinned,
            "failed": self.failed,
            "skipped": self.skipped,
            "hit_rate": self.hit_rate,
            "saved_seconds": self.saved_seconds,
        }


def hit_rate(hits: int, misses: int) -> float | None:
    """hits / (hits + misses), or None when no step could have hit."""
    asked = hits + misses
    return hits / asked if asked else None


def format_rate(rate: float | None) -> str:
    """`67%`, or an en dash when there is no rate: how every view prints it."""
    return "\u2013" if rate is None else f"{rate:.0%}"


def run_totals(steps: Iterable[tuple[str, str, str, float]]) -> RunTotals:
    """The one place a run's steps are counted; pending and running steps count only in `steps`.

    Each item is a `StepTally` or a plain (status, cache, reason_kind, saved_seconds) tuple.
    """
    n = executed = cached = pinned = failed = skipped = uncached = 0
    saved = 0.0
    for status, cache, reason_kind, saved_seconds in steps:
        n += 1
        if status == StepStatus.CACHED or status == StepStatus.PINNED:
            cached += 1
            pinned += status == StepStatus.PINNED
            saved += saved_seconds or 0.0
        elif status == StepStatus.EXECUTED or status == StepStatus.FAILED:
            if status == StepStatus.EXECUTED:
                executed += 1
            else:
                failed += 1
            if cache == CACHE_OFF or reason_kind == ReasonKind.CACHE_DISABLED:
                uncached += 1
        elif status == StepStatus.SKIPPED:
            skipped += 1
    return RunTotals(n, executed, cached, pinned, failed, skipped, uncached, saved)


def totals_of_events(events: Iterable[object]) -> RunTotals:
    """Totals from the `StepFinished` among a run's events (what `RunResult` holds)."""
    return run_totals(
        StepTally(e.status, e.cache, e.reason_kind, e.saved_seconds)
        for e in events
        if isinstance(e, StepFinished)
    )


def totals_of_record(steps: Iterable[Mapping[str, Any]]) -> RunTotals:
    """Totals from the `steps` of a run record (what the recorder and reports hold)."""
    return run_totals(
        StepTally(
            str(s.get("status", "")),
            str(s.get("cache") or ""),
            str(s.get("reason_kind") or ""),
            float(s.get("saved_seconds") or 0.0),
        )
        for s in steps
    )
