"""flowyml's `condition=`: asked once per step, before its cache is looked at, with the values
of the steps done so far. A false condition skips the step (and what needs it); one that
raises fails it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..define.graph import Graph
from ..events import ReasonKind, StepStatus
from ..result import StepResult
from ..step import Step
from .completing import Fail
from .ledger import RunLedger


class ConditionGate:
    """One run's conditions. `broken` is the scheduler's set of steps that stop their
    downstream; `finish` reports a step's end (`RunLedger.step_finished`). Results are read
    through the ledger, which holds them weakly once the run is over."""

    def __init__(
        self,
        *,
        graph: Graph,
        context: Mapping[str, Any],
        ledger: RunLedger,
        materialize: Callable[[str], Any],
        broken: set[str],
        fail: Fail,
        finish: Callable[..., None],
    ) -> None:
        self.graph, self.context, self.ledger = graph, context, ledger
        self.materialize, self.broken, self.fail, self.finish = materialize, broken, fail, finish
        self.went_on: set[str] = set()
        """Steps whose condition said go: a step held for a free runner is not asked again."""

    def check(self, step: Step) -> StepResult | None:
        """None to go on, else the step's skipped or failed result (already reported)."""
        if step.condition is None or step.name in self.went_on:
            return None
        from ..compat.condition import condition_arguments

        result = StepResult(name=step.name)
        try:
            kwargs = condition_arguments(step, self.context, self.done_values)
            go = bool(step.condition(**kwargs))
        except Exception as exc:
            self.fail(result, exc, prefix="condition check failed: ")
            self.finish(step, result)
            return result
        if go:
            self.went_on.add(step.name)
            return None
        result.status, result.reason_kind = StepStatus.SKIPPED, ReasonKind.SKIPPED
        result.reason = "condition false"
        self.broken.add(step.name)
        self.finish(step, result)
        return result

    def done_values(self) -> dict[str, Any]:
        """Output name -> value of every step that has produced its outputs so far."""
        done = {}
        for name, producer in self.graph.producers.items():
            result = self.ledger.results.get(producer)
            if result is not None and result.succeeded:
                done[name] = self.materialize(name)
        return done
