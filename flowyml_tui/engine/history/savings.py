"""What the caches saved in a run, per step: time, calls and money (the savings ledger).

A step that ran adds up its call caches: the time and `cost_fn` money their hits saved, and the
money their misses spent, plus its own compute time at the rate as spent. A whole-step hit saves
the time the step took when it last ran, at the rate; the calls inside it are not counted again
(they were counted in the run that computed it), so nothing is counted twice.

Each step's rate comes from `rates.py` (the step's, the pipeline's, the runner's or the
config's); without one, money is 0 and only time is shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from ..errors import FlowymlError
from ..events import CallStats

DEFAULT_CURRENCY = "USD"


class RateError(FlowymlError):
    """A cost_per_hour or currency that is not usable."""


class Rate(msgspec.Struct, frozen=True):
    """What an hour of compute costs, and in what currency."""

    cost_per_hour: float
    currency: str = DEFAULT_CURRENCY

    def of(self, seconds: float) -> float:
        return seconds * self.cost_per_hour / 3600.0


class Savings(msgspec.Struct, frozen=True, gc=False):
    """One step's (or a run's, or a history's) line of the ledger."""

    time_saved_s: float = 0.0
    calls_saved: int = 0
    cost_saved: float = 0.0
    cost_spent: float = 0.0

    def __add__(self, other: Savings) -> Savings:
        return Savings(
            self.time_saved_s + other.time_saved_s,
            self.calls_saved + other.calls_saved,
            self.cost_saved + other.cost_saved,
            self.cost_spent + other.cost_spent,
        )


NOTHING = Savings()


def total(lines: Iterable[Savings]) -> Savings:
    return sum(lines, NOTHING)


def checked_rate(cost_per_hour: object, currency: object = DEFAULT_CURRENCY) -> Rate:
    """A Rate, or a RateError saying what is wrong with the given values."""
    if isinstance(cost_per_hour, bool) or not isinstance(cost_per_hour, int | float):
        raise RateError(
            f"cost_per_hour must be a number (what an hour of compute costs), not {cost_per_hour!r}"
        )
    if not math.isfinite(cost_per_hour) or cost_per_hour < 0:
        raise RateError(f"cost_per_hour must be a finite number >= 0, not {cost_per_hour!r}")
    if not isinstance(currency, str) or not currency.strip():
        raise RateError(f"currency must be a name such as 'USD' or 'EUR', not {currency!r}")
    return Rate(float(cost_per_hour), currency.strip())


class FinishedStep(Protocol):
    """What the ledger needs of a step's end: a `StepFinished` event or a `StepResult`."""

    @property
    def cached(self) -> bool: ...
    @property
    def status(self) -> str: ...
    @property
    def duration_seconds(self) -> float: ...
    @property
    def saved_seconds(self) -> float: ...
    @property
    def calls(self) -> Sequence[CallStats]: ...


def step_savings(done: FinishedStep, rate: Rate | None) -> Savings:
    """What one finished step saved and spent (see the module docstring for the rules)."""
    if done.cached:
        saved = done.saved_seconds
        return Savings(saved, 0, rate.of(saved) if rate else 0.0, 0.0)
    if done.status == "skipped":
        return NOTHING
    time_saved = sum(call.saved_seconds for call in done.calls)
    cost_saved = sum(call.saved_cost for call in done.calls)
    cost_spent = sum(call.spent_cost for call in done.calls)
    if rate is not None:
        cost_saved += rate.of(time_saved)
        cost_spent += rate.of(done.duration_seconds)
    return Savings(time_saved, sum(call.hits for call in done.calls), cost_saved, cost_spent)
