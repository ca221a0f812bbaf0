"""What an hour of each step's compute costs: the config's rates, the pipeline's, the step's own.

A step's rate, first found wins:

1. `@step(cost_per_hour=...)`;
2. otherwise a base rate, `Pipeline(cost_per_hour=...)`, else the config's rate for the runner
   the run uses (`[runner_cost_per_hour]`: `local` for this process and local worker
   processes, `dask` for a Dask cluster), else the config's `cost_per_hour`; plus, for each
   of the step's `resources=` the config prices (`[resource_cost_per_hour]`, e.g. `gpu = 2.5`),
   its units times that price.

A step with none of these has no rate: its money is 0 and, when no step has one, only time is
shown. One currency per run: the pipeline's, else the config's, else USD.
"""

from __future__ import annotations

import math
import sys
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ..config import user_config_file, user_config_path
from ..step import Step
from .savings import DEFAULT_CURRENCY, Rate, RateError, checked_rate

RUNNER_KINDS = ("local", "dask")


class RateConfig(msgspec.Struct, frozen=True):
    """The rates in the user's config.toml."""

    cost_per_hour: float | None = None
    currency: str | None = None
    runners: dict[str, float] = {}
    """Runner kind ("local", "dask") -> its cost per hour."""
    resources: dict[str, float] = {}
    """Resource name ("gpu", "cpu") -> the cost of one unit for an hour."""


NO_RATES = RateConfig()


class RunRates(msgspec.Struct, frozen=True):
    """The rates of one run: the run's own (None without one) and each step's where it differs."""

    rate: Rate | None
    steps: dict[str, Rate] = {}

    def of(self, step: str) -> Rate | None:
        return self.steps.get(step, self.rate)

    @property
    def currency(self) -> str | None:
        if self.rate is not None:
            return self.rate.currency
        return next(iter(self.steps.values())).currency if self.steps else None


def read_rate_config() -> RateConfig:
    """The rates in the user's config.toml (none without the file); RateError if one is wrong."""
    try:  # every run reads it: the path as a string, built once per environment
        with open(user_config_file(), "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return NO_RATES
    except OSError as exc:
        raise RateError(f"cannot read {user_config_path()}: {exc}; fix or remove it") from None
    path = user_config_path()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RateError(f"cannot read {path}: {exc}; fix or remove it") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RateError(f"{path} is not valid TOML ({exc}); fix or remove it") from None
    try:
        return _rate_config(data)
    except RateError as exc:
        raise RateError(f"{path}: {exc}") from None


def _rate_config(data: Mapping[str, Any]) -> RateConfig:
    currency = data.get("currency")
    default = None
    if "cost_per_hour" in data:
        default = checked_rate(data["cost_per_hour"], currency or DEFAULT_CURRENCY).cost_per_hour
    elif currency is not None:
        checked_rate(0.0, currency)  # the currency alone is checked too
    runners = _priced_table(data, "runner_cost_per_hour")
    unknown = sorted(set(runners) - set(RUNNER_KINDS))
    if unknown:
        raise RateError(
            f"[runner_cost_per_hour] names {unknown}; the runners are {list(RUNNER_KINDS)}"
        )
    return RateConfig(
        cost_per_hour=default,
        currency=currency,
        runners=runners,
        resources=_priced_table(data, "resource_cost_per_hour"),
    )


def _priced_table(data: Mapping[str, Any], name: str) -> dict[str, float]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise RateError(f"{name} must be a table such as [{name}] with name = number entries")
    try:
        return {str(key): checked_rate(value).cost_per_hour for key, value in table.items()}
    except RateError as exc:
        raise RateError(f"[{name}]: {exc}") from None


def runner_kind(runner: object | None) -> str:
    """ "dask" for a Dask runner, "local" for anything else (inline or local processes).

    Dask's runner module is asked only once it is loaded: a run that never made one pays no
    import to learn it did not.
    """
    dask = sys.modules.get("flowyml_tui.engine.run.dask")
    if runner is not None and dask is not None and isinstance(runner, dask.DaskRunner):
        return "dask"
    return "local"


def run_rates(
    steps: Iterable[Step],
    config: RateConfig,
    *,
    pipeline_rate: float | None,
    pipeline_currency: str | None,
    runner: str,
) -> RunRates:
    """Each step's rate for a run on `runner` (see the module docstring for the order)."""
    currency = pipeline_currency or config.currency or DEFAULT_CURRENCY
    base = pipeline_rate
    if base is None:
        base = config.runners.get(runner, config.cost_per_hour)
    run_rate = Rate(base, currency) if base is not None else None
    per_step: dict[str, Rate] = {}
    for step in steps:
        own = step.cost_per_hour
        if own is None:
            extra = resource_cost(step.resources, config.resources)
            if extra is None:
                continue
            own = (base or 0.0) + extra
        if run_rate is None or own != run_rate.cost_per_hour:
            per_step[step.name] = Rate(own, currency)
    return RunRates(run_rate, per_step)


def resource_cost(resources: Any, prices: Mapping[str, float]) -> float | None:
    """An hour of the priced resources a step asks for (units x price), None if none is."""
    if not prices or resources is None:
        return None
    asked = _as_mapping(resources)
    cost, priced = 0.0, False
    for name, price in prices.items():
        if name in asked:
            units = _units(asked[name])
            if units is not None:
                cost += units * price
                priced = True
    return cost if priced else None


def _as_mapping(resources: Any) -> Mapping[str, Any]:
    """`resources=` as name -> amount: a dict, or flowyml's `ResourceRequirements` dataclass."""
    if isinstance(resources, Mapping):
        return resources
    import dataclasses  # only for a step that asks for resources: a cached run loads none

    if dataclasses.is_dataclass(resources) and not isinstance(resources, type):
        return dataclasses.asdict(resources)
    return {}


def _units(amount: Any) -> float | None:
    """How many units: a number, a numeric text ("2"), or flowyml's GPU config (its count)."""
    if isinstance(amount, Mapping):
        amount = amount.get("count", 1)
    if isinstance(amount, bool):
        return None
    if isinstance(amount, str):
        try:
            amount = float(amount)
        except ValueError:
            return None
    if isinstance(amount, int | float) and math.isfinite(amount) and amount >= 0:
        return float(amount)
    return None
