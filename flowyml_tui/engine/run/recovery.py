"""A value that fails to load mid-run (a corrupt or vanished entry): its producer is run
again, and the steps already decided from the old value are decided again, so that no entry
is ever keyed by a value its step did not receive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..cache import CorruptEntry, Store
from ..define.graph import Graph
from ..errors import FlowymlError
from ..events import ReasonKind, StepStatus
from ..result import StepResult
from ..step import Step
from .decide import Decision
from .inputs import RunValues
from .keying import Keying
from .ledger import RunLedger

_MAX_REDECISIONS = 20


class Recovery:
    """One run's re-runs of producers. `decide` is the run's decision (warnings reported);
    `execute` runs one step to its end; `run_step` decides and runs one step. Results are read
    through the ledger, which holds them weakly once the run is over (no reference cycle)."""

    def __init__(
        self,
        *,
        graph: Graph,
        store: Store | None,
        keys: Keying,
        inputs: RunValues,
        ledger: RunLedger,
        broken: set[str],
        warn: Callable[[str, str | None], None],
        decide: Callable[[Step], Decision],
        execute: Callable[[Step, Decision, StepResult], None],
        run_step: Callable[[Step], StepResult],
    ) -> None:
        self.graph, self.store, self.keys, self.inputs = graph, store, keys, inputs
        self.ledger, self.broken, self.warn = ledger, broken, warn
        self.decide, self.execute, self.run_step = decide, execute, run_step
        self.during_run = False
        """After the run a value that fails to load re-runs its producer only: nothing
        downstream is decided again."""
        self._epoch = 0
        """Bumped whenever a producer is re-run mid-run."""
        self._preparing: set[str] = set()
        """Steps gathering their inputs right now: they re-decide themselves if one changes."""

    def decide_with_inputs(self, step: Step) -> Decision:
        """Decide a step; one that will run also gets its inputs loaded, consistently.

        Loading an input can re-run its producer, and the value that comes back may differ
        from the fingerprint the decision was keyed by. Then the step is decided again from
        what it will actually receive.
        """
        self._preparing.add(step.name)
        try:
            for _ in range(_MAX_REDECISIONS):
                epoch = self._epoch
                decision = self.decide(step)
                if decision.action == "run":
                    self.inputs.input_values(step)  # loads each input into this run's memory
                if epoch == self._epoch:
                    return decision
        finally:
            self._preparing.discard(step.name)
        raise FlowymlError(
            f"step {step.name!r}: its inputs kept changing while they were loaded "
            f"({_MAX_REDECISIONS} times); the cache dir may be cleared by another process"
        )

    def recover(self, output_name: str, problem: CorruptEntry) -> Any:
        """Re-run the producer of a value that failed to load, and re-decide what used it."""
        producer = self.graph.step(self.graph.producers[output_name])
        self.warn(
            f"corrupt cache entry for {producer.name} ({problem}); running it again", producer.name
        )
        assert self.store is not None
        located, known = self.inputs.output_entry, self.inputs.output_fps
        self.store.delete_entry(located[output_name].key)
        before = {name: known.get(name) for name in producer.outputs}
        for name in producer.outputs:
            located.pop(name, None)
        result = StepResult(name=producer.name)
        decision = Decision(
            "run",
            ReasonKind.CORRUPT_ENTRY,
            f"corrupt cache entry: {problem}",
            self.keys.recipe(producer, self.keys.code(producer)),
        )
        self.execute(producer, decision, result)
        self.ledger.results[producer.name] = result
        self._epoch += 1
        if result.status is StepStatus.FAILED:
            raise RuntimeError(f"step {producer.name} failed when re-run: {result.error}")
        after = {name: known.get(name) for name in producer.outputs}
        if after != before and self.during_run:
            self._redecide_downstream(producer)
        return self.inputs.materialize(output_name)

    def _redecide_downstream(self, producer: Step) -> None:
        """Steps already decided from the producer's old value are decided again, in order."""
        results = self.ledger.results
        for name in self.graph.downstream([producer.name]):
            if name == producer.name or name in self._preparing or name not in results:
                continue
            step = self.graph.step(name)
            self.inputs.forget(step)
            self.broken.discard(name)
            self.ledger.used.pop(name, None)
            results[name] = self.run_step(step)
