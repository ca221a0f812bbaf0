"""`Pipeline.plan()`: every step decided as a run would decide it, with nothing executed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..define.graph import Graph
from ..errors import FlowymlError
from ..events import ReasonKind
from ..step import Step
from .decide import Decision
from .inputs import RunValues


class StepPlan(msgspec.Struct, frozen=True):
    """What a run would do with one step, without running anything (`Pipeline.plan`)."""

    step: str
    action: str
    """"hit", "run", "pinned" or "skip"."""
    reason: str
    reason_kind: ReasonKind


Decide = Callable[[Step, list[str]], Decision]
"""The run's full decision for a step, given the upstream steps that will run first."""


def plan_steps(
    graph: Graph,
    context: dict[str, Any],
    decide: Decide,
    inputs: RunValues,
    materialize: Callable[[str], Any],
) -> list[StepPlan]:
    """Decide every step in order; an output a step before it would make is "will run"."""
    plans = []
    will_run: set[str] = set()
    skipped: set[str] = set()

    def planned_values() -> dict[str, Any]:
        """Output name -> value of every output the plan found in the cache so far."""
        return {name: materialize(name) for name in inputs.output_entry}

    for step in graph.order:
        gone = next((u for u in graph.upstream[step.name] if u in skipped), None)
        asked = (
            None if gone is not None else _condition(graph, step, context, will_run, planned_values)
        )
        if gone is not None or asked is False:
            why = "condition false" if gone is None else f"upstream {gone} skipped"
            plans.append(StepPlan(step.name, "skip", why, ReasonKind.SKIPPED))
            skipped.add(step.name)
            continue
        if isinstance(asked, StepPlan):
            plans.append(asked)
            will_run.add(step.name)
            continue
        blocked = [u for u in graph.upstream[step.name] if u in will_run]
        try:
            decision = decide(step, blocked)
        except FlowymlError as exc:
            plans.append(StepPlan(step.name, "run", f"failed: {exc}", ReasonKind.FAILED))
            will_run.add(step.name)
            continue
        if decision.action == "run":
            will_run.add(step.name)
        elif decision.entry is not None:
            inputs.remember_entry(step, decision.entry)
        reason = decision.reason
        if asked is None and step.condition is not None:
            reason += " (its condition is asked when the run gets there)"
        plans.append(StepPlan(step.name, decision.action, reason, decision.kind))
    return plans


def _condition(
    graph: Graph,
    step: Step,
    context: dict[str, Any],
    will_run: set[str],
    planned_values: Callable[[], dict[str, Any]],
) -> bool | StepPlan | None:
    """A `condition=`'s answer before a run; None if it reads outputs not made yet."""
    if step.condition is None:
        return True
    from ..compat.condition import planned_condition

    unknown = {name for s in will_run for name in graph.step(s).outputs}
    try:
        return planned_condition(step, context, planned_values, unknown)
    except Exception as exc:
        why = f"failed: condition check failed: {type(exc).__name__}: {exc}"
        return StepPlan(step.name, "run", why, ReasonKind.FAILED)
