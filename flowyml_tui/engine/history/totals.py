"""A run's totals and its hit rate, defined once for every view of a run.

The CLI, the TUI, run records, reports and `CacheStore.stats()` all show a hit rate; each used
to count it its own way, so one run read 100% in one place and 67% in another. Here it is:

    hit rate = hits / (hits + executed + failed), hits = cached + pinned

A step with its cache off (`cache=False`, or a run without a cache) could never have hit, and a
skipped step never asked the cache, so neither is counted. With nothing left to count the rate
is `None` (null in a record, shown as a dash), not 0%: "no hit possible" is not "all missed".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import msgspec

from ..events import ReasonKind, StepFinished, StepStatus

CACHE_OFF = "off"
"""The cache strategy label of a `cache=False` step (`StepInfo.cache`, `StepFinished.cache`)."""

# Plain strings, not the enums: comparing to a StrEnum member costs several times more.
_CACHED, _PINNED, _EXECUTED, _FAILED, _SKIPPED = (
    str(s.value)
    for s in (
        StepStatus.CACHED,
        StepStatus.PINNED,
        StepStatus.EXECUTED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
    )
)
_COUNTED = (_CACHED, _PINNED, _EXECUTED, _FAILED, _SKIPPED)
_HITS = frozenset((_CACHED, _PINNED))
_RAN = frozenset((_EXECUTED, _FAILED))
_CACHE_DISABLED = str(ReasonKind.CACHE_DISABLED.value)


class CallSaving(Protocol):
    """What the totals read of one call cache's use inside a step (`CallStats`)."""

    @property
    def saved_seconds(self) -> float: ...


class CallTally(NamedTuple):
    """A `CallSaving` built by hand, from a record's dicts."""

    saved_seconds: float = 0.0


class StepOutcome(Protocol):
    """What the totals read of a step. `StepFinished`, a record's `StepRecord` and the TUI's
    `StepRow` all have these, so they are counted as they are, with no copy per step."""

    @property
    def status(self) -> str: ...
    @property
    def cache(self) -> str: ...
    @property
    def reason_kind(self) -> str: ...
    @property
    def saved_seconds(self) -> float: ...
    @property
    def calls(self) -> Sequence[CallSaving]: ...


class StepTally(NamedTuple):
    """A `StepOutcome` built by hand, for steps held in some other shape (a record's dicts)."""

    status: str
    cache: str = ""
    reason_kind: str = ""
    saved_seconds: float = 0.0
    calls: tuple[CallTally, ...] = ()


class RunTotals(msgspec.Struct, frozen=True):
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
    """All the time the caches saved: `step_saved_seconds` + `call_saved_seconds`."""
    step_saved_seconds: float = 0.0
    """What the cache hits (whole steps) took when they last ran."""
    call_saved_seconds: float = 0.0
    """What the call caches (`CachePrimitive`) saved inside the steps that ran."""

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
            "call_saved_seconds": self.call_saved_seconds,
        }


def hit_rate(hits: int, misses: int) -> float | None:
    """hits / (hits + misses), or None when no step could have hit."""
    asked = hits + misses
    return hits / asked if asked else None


def format_rate(rate: float | None) -> str:
    """`67%`, or an en dash when there is no rate: how every view prints it."""
    return "\u2013" if rate is None else f"{rate:.0%}"


def run_totals(steps: Iterable[StepOutcome]) -> RunTotals:
    """The one place a run's steps are counted; pending and running steps count only in `steps`."""
    counts = dict.fromkeys(_COUNTED, 0)
    n = uncached = 0
    saved = call_saved = 0.0
    for step in steps:  # per step of every run: keep it cheap
        n += 1
        status = step.status
        for call in step.calls:  # almost always none
            call_saved += call.saved_seconds or 0.0
        if status in counts:
            counts[status] += 1
            if status in _HITS:
                saved += step.saved_seconds or 0.0
            elif status in _RAN and (
                step.cache == CACHE_OFF or step.reason_kind == _CACHE_DISABLED
            ):
                uncached += 1
    pinned = counts[_PINNED]
    return RunTotals(
        steps=n,
        executed=counts[_EXECUTED],
        cached=counts[_CACHED] + pinned,
        pinned=pinned,
        failed=counts[_FAILED],
        skipped=counts[_SKIPPED],
        uncached=uncached,
        saved_seconds=saved + call_saved,
        step_saved_seconds=saved,
        call_saved_seconds=call_saved,
    )


def totals_of_events(events: Iterable[object]) -> RunTotals:
    """Totals from the `StepFinished` among a run's events (what `RunResult` holds).

    A step can finish twice: served from the cache, then run again when its cached value
    fails to load. Only its last word counts, as in the run record and the TUI's table.
    """
    last: dict[str, StepFinished] = {}
    for event in events:
        if isinstance(event, StepFinished):
            last[event.step] = event
    return run_totals(last.values())


def totals_of_record(steps: Iterable[Mapping[str, Any]]) -> RunTotals:
    """Totals from the `steps` of a run record (what the recorder and reports hold)."""
    return run_totals(
        StepTally(
            str(s.get("status", "")),
            str(s.get("cache") or ""),
            str(s.get("reason_kind") or ""),
            float(s.get("saved_seconds") or 0.0),
            tuple(CallTally(float(c.get("saved_seconds") or 0.0)) for c in s.get("calls") or ()),
        )
        for s in steps
    )
