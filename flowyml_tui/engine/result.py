"""What `Pipeline.run` returns: per-step results and outputs that load only when asked for."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import msgspec

from .events import Event, ReasonKind, RunFinished, RunStarted, StepStatus
from .history.savings import Rate, Savings, step_savings, total
from .history.totals import RunTotals, totals_of_events

if TYPE_CHECKING:
    import datetime

_STEP_RESULT_HIDDEN = frozenset({"exception", "diff", "logs", "output_fingerprints", "_outputs"})
"""Long or internal: left out of a result's repr, so a printed result reads at a glance."""


def _repr(obj: msgspec.Struct, hidden: frozenset[str]) -> str:
    fields = (name for name in obj.__struct_fields__ if name not in hidden)
    return f"{type(obj).__name__}({', '.join(f'{n}={getattr(obj, n)!r}' for n in fields)})"


class StepResult(msgspec.Struct, weakref=True):
    """One step's outcome, in flowyml's vocabulary (`cached`, `duration_seconds`) plus *why*."""

    name: str
    status: StepStatus = StepStatus.PENDING
    reason: str = ""
    reason_kind: ReasonKind | None = None
    cached: bool = False
    duration_seconds: float = 0.0
    saved_seconds: float = 0.0
    code_hash: str | None = None
    key: str | None = None
    error: str | None = None
    exception: BaseException | None = None
    diff: str | None = None
    changed: tuple[str, ...] = ()
    logs: list[tuple[str, str]] = []
    warnings: list[str] = []
    output_fingerprints: dict[str, str] = {}
    retries: int = 0
    """Attempts after the first one (flowyml's `retry=`)."""
    calls: tuple[Any, ...] = ()
    """`CallStats` of the call caches its function used (hits, misses, seconds saved)."""
    _outputs: Outputs | None = None
    """The run's outputs, set by `RunResult`: `output` loads this step's from them on demand."""

    def __repr__(self) -> str:
        return _repr(self, _STEP_RESULT_HIDDEN)

    @property
    def succeeded(self) -> bool:
        return self.status in (StepStatus.CACHED, StepStatus.EXECUTED, StepStatus.PINNED)

    # flowyml's ExecutionResult names, beside ours

    @property
    def success(self) -> bool:
        """flowyml's: true unless the step failed (a skipped step is a success there)."""
        return self.status is not StepStatus.FAILED

    @property
    def skipped(self) -> bool:
        return self.status is StepStatus.SKIPPED

    @property
    def step_name(self) -> str:
        return self.name

    @property
    def output(self) -> Any:
        """What the step returned: its one output, or a dict of several; None if it did not run."""
        if self._outputs is None or not self.succeeded or self.name not in self._outputs._by_step:
            return None
        return self._outputs.of_step(self.name)


class StepResults(dict[str, StepResult]):
    """One run's step results by step name: a dict the executor can refer to weakly."""


class ResultsAfterRun(MutableMapping[str, StepResult]):
    """What the executor keeps of a finished run's results: a weak view of them.

    `RunResult` owns the results, and each reaches the executor back through `output` (a
    lazy load). Held strongly here, every run would be a reference cycle that only the
    garbage collector frees: a cached run's thousand results would cost a full collection
    later. A load after the run that re-runs a producer still updates the results while the
    `RunResult` holding them lives; once it is gone there is nothing to update.
    """

    def __init__(self, results: StepResults) -> None:
        self._ref = weakref.ref(results)

    def _target(self) -> dict[str, StepResult]:
        results = self._ref()
        return {} if results is None else results

    def __getitem__(self, name: str) -> StepResult:
        return self._target()[name]

    def __setitem__(self, name: str, result: StepResult) -> None:
        self._target()[name] = result

    def __delitem__(self, name: str) -> None:
        del self._target()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._target())

    def __len__(self) -> int:
        return len(self._target())


class Outputs(Mapping[str, Any]):
    """A read-only mapping of output name -> value that loads each value on first access.

    A step's name also works, as in flowyml's `result.outputs[step_name]`: its one output, or
    a dict of its several. Iterating gives the output names only.
    """

    def __init__(
        self,
        names: Collection[str],
        load: Callable[[str], Any],
        by_step: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._names = names
        self._load = load
        self._by_step = by_step or {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            if name in self._by_step:
                return self.of_step(name)
            raise KeyError(f"no output named {name!r}; the run has: {', '.join(self._names)}")
        return self._load(name)

    def __contains__(self, name: object) -> bool:
        return name in self._names or name in self._by_step

    def of_step(self, step: str) -> Any:
        """The value `step` returned: its one output, or a dict of its several."""
        names = self._by_step[step]
        if len(names) == 1:
            return self._load(names[0])
        return {name: self._load(name) for name in names}

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class RunResult(msgspec.Struct):
    """A finished run. `result["clean"]` loads an output; `step_results` says what happened."""

    run_id: str
    pipeline: str
    step_results: dict[str, StepResult]
    outputs: Outputs
    duration_seconds: float
    events: list[Event] = []
    rate: Rate | None = None
    """What an hour of compute cost in this run: the savings ledger's money (issue 28)."""
    step_rates: dict[str, Rate] = {}
    """The steps whose rate differs from the run's (`rates.py`)."""

    def __post_init__(self) -> None:
        for step_result in self.step_results.values():  # per step: keep it to one attribute
            step_result._outputs = self.outputs

    def __repr__(self) -> str:
        return _repr(self, frozenset({"events"}))

    def savings(self) -> tuple[dict[str, Savings], Savings]:
        """Each step's line of the savings ledger, and the run's total."""
        lines = {
            name: step_savings(r, self.step_rates.get(name, self.rate))
            for name, r in self.step_results.items()
        }
        return lines, total(lines.values())

    @property
    def status(self) -> str:
        return "failed" if self.failed_steps else "succeeded"

    # flowyml's PipelineResult names, beside ours

    @property
    def success(self) -> bool:
        return not self.failed_steps

    @property
    def state(self) -> str:
        """flowyml's "completed" or "failed"."""
        return "completed" if self.success else "failed"

    @property
    def pipeline_name(self) -> str:
        return self.pipeline

    @property
    def start_time(self) -> datetime.datetime | None:
        """flowyml's start time (local, naive), from the run's first event."""
        import datetime

        started = next((e for e in self.events if isinstance(e, RunStarted)), None)
        if started is None:
            return None
        return datetime.datetime.fromtimestamp(started.started_at)

    @property
    def end_time(self) -> datetime.datetime | None:
        import datetime

        start = self.start_time
        return None if start is None else start + datetime.timedelta(seconds=self.duration_seconds)

    def to_dict(self) -> dict[str, Any]:
        """flowyml's shape (run, success, state, per step success/duration/cached/retries/error)
        plus our status and reason per step."""
        return {
            "run_id": self.run_id,
            "pipeline_name": self.pipeline,
            "success": self.success,
            "state": self.state,
            "duration_seconds": self.duration_seconds,
            "steps": {
                name: {
                    "success": r.success,
                    "duration": r.duration_seconds,
                    "cached": r.cached,
                    "retries": r.retries,
                    "error": r.error,
                    "skipped": r.skipped,
                    "status": r.status.value,
                    "reason": r.reason,
                }
                for name, r in self.step_results.items()
            },
        }

    def summary(self) -> str:
        """A few lines for a terminal: the pipeline, the run, its status, each step and why."""
        mark = "✓ SUCCESS" if self.success else "✗ FAILED"
        lines = [
            f"Pipeline: {self.pipeline}",
            f"Run ID: {self.run_id}",
            f"Status: {mark}",
            f"Duration: {self.duration_seconds:.2f}s",
            "",
            "Steps:",
        ]
        for name, r in self.step_results.items():
            icon = {"failed": "✗", "skipped": "-", "cached": "⚡", "pinned": "📌"}.get(
                r.status.value, "✓"
            )
            retries = f", {r.retries} retries" if r.retries else ""
            lines.append(
                f"  {icon} {name} [{r.status.value}] ({r.duration_seconds:.2f}s{retries})"
                f" {r.reason}".rstrip()
            )
        return "\n".join(lines)

    @property
    def finished(self) -> RunFinished:
        """The run's closing event: its counts of executed, cached, failed, skipped and saved."""
        last = self.events[-1]
        assert isinstance(last, RunFinished)
        return last

    @property
    def failed_steps(self) -> list[str]:
        return [n for n, r in self.step_results.items() if r.status is StepStatus.FAILED]

    @property
    def totals(self) -> RunTotals:
        """Executed, cached, failed, skipped, saved and the hit rate, counted as every view does."""
        return totals_of_events(self.events)

    @property
    def hit_rate(self) -> float | None:
        """hits / (hits + executed + failed), cache-off and skipped steps aside: see totals.py."""
        return self.totals.hit_rate

    def __getitem__(self, output_name: str) -> Any:
        return self.outputs[output_name]

    def raise_for_failures(self) -> None:
        """Re-raise the first step failure, for scripts that want an exception."""
        for result in self.step_results.values():
            if result.exception is not None:
                raise result.exception


def empty_result(pipeline: str) -> RunResult:
    """A run that ran nothing (a dry run's answer to a script's `run()`)."""
    return RunResult(
        run_id="dry-run",
        pipeline=pipeline,
        step_results={},
        outputs=Outputs([], lambda name: None),
        duration_seconds=0.0,
    )
