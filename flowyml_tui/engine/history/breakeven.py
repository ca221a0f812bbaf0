"""Whether a step's cache pays: what a hit costs (asking the cache, then loading the value)
against what recomputing the step costs, from measured history.

A cache that costs more per hit than the step takes to run loses time on every hit, however
many there are: it is flagged, and a `cache="auto"` step stops being stored. One that costs
less pays once its hits have saved what storing it cost (`pays_after`).

The history is the last measured figure of each kind, kept in the store's workspace (never in
a key): per step its compute, load and store times and bytes kept, and per pipeline the time a
hit takes to be asked (the run's mean over its lean hits: one clock pair a run, not a step).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

Figures = dict[str, float]
"""A step's history: `compute_s`, `load_s`, `store_s`, `bytes`."""

FLAG_FLOOR = 0.001
"""A hit must cost at least this much more than recomputing to be flagged: a step of a few
microseconds whose hit takes a few more is not worth anyone's attention."""

CHANGE = 0.25
"""A figure is rewritten only when it moved by more than this fraction, and by more than
`STEADY` seconds: a run that measured what the last one did writes nothing."""

CHECK_CHANGE = 1.0
"""The check time alone is rewritten only when it doubled or halved: it is microseconds a
step, its mean moves from run to run, and a fully cached run should write nothing."""

STEADY = 0.0001
"""Jitter below a tenth of a millisecond never rewrites a figure (a flag needs a millisecond)."""


class CacheCost(msgspec.Struct, frozen=True, gc=False):
    """What caching one step cost in one run, beside the run's check time (carried in
    `RunFinished` and the run record)."""

    load_s: float = 0.0
    """Loading its cached values, when something in the run needed them."""
    store_s: float = 0.0
    """Pickling and writing its entry (a miss that was stored)."""
    bytes: int = 0
    """What its entry keeps."""


class Verdict(msgspec.Struct, frozen=True):
    """A step's break-even from its history."""

    step: str
    hit_s: float
    """Check + load: what one hit costs."""
    compute_s: float
    store_s: float
    bytes: int

    @property
    def pays(self) -> bool:
        return self.compute_s > self.hit_s

    @property
    def flagged(self) -> bool:
        """Its cache costs more than recomputing it, by enough to say so."""
        return self.hit_s - self.compute_s >= FLAG_FLOOR

    @property
    def pays_after(self) -> int | None:
        """Hits it takes to win back the store; None when a hit never pays."""
        if not self.pays:
            return None
        return max(1, math.ceil(self.store_s / (self.compute_s - self.hit_s)))

    def text(self) -> str:
        """`caching `tokenize` costs 3.1 ms a hit, recomputing 0.4 ms` (and what storing costs)."""
        said = (
            f"caching `{self.step}` costs {seconds(self.hit_s)} a hit, "
            f"recomputing {seconds(self.compute_s)}"
        )
        if self.store_s or self.bytes:
            said += f" (storing {seconds(self.store_s)}, {size(self.bytes)} kept)"
        return said


def verdict(step: str, figures: Mapping[str, float] | None, check_s: float) -> Verdict | None:
    """The step's break-even, or None until its compute time has been measured."""
    if not figures or "compute_s" not in figures:
        return None
    return Verdict(
        step,
        check_s + figures.get("load_s", 0.0),
        figures["compute_s"],
        figures.get("store_s", 0.0),
        int(figures.get("bytes", 0)),
    )


def merged(
    old: Mapping[str, float] | None, measured: Mapping[str, float], change: float = CHANGE
) -> Figures | None:
    """`old` with this run's measurements, or None when none moved (`_moved`)."""
    new = dict(old or {})
    changed = False
    for name, value in measured.items():
        before = new.get(name)
        if before is None or _moved(before, value, change):
            new[name] = value
            changed = True
    return new if changed else None


def _moved(before: float, value: float, change: float) -> bool:
    """Grown by more than `change` (a fraction) or shrunk by as much (x 1/(1 + change)),
    and by more than `STEADY` either way."""
    if abs(value - before) <= STEADY:
        return False
    return value > before * (1 + change) or value * (1 + change) < before


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.001:
        return f"{value * 1000:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")
