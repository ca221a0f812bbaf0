"""What `Pipeline.run` returns: per-step results and outputs that load only when asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .events import Event, ReasonKind, RunFinished, StepStatus
from .totals import RunTotals, totals_of_events


@dataclass
class StepResult:
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
    exception: BaseException | None = field(default=None, repr=False)
    diff: str | None = field(default=None, repr=False)
    changed: tuple[str, ...] = ()
    logs: list[tuple[str, str]] = field(default_factory=list, repr=False)
    warnings: list[str] = field(default_factory=list)
    output_fingerprints: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.status in (StepStatus.CACHED, StepStatus.EXECUTED, StepStatus.PINNED)


class Outputs(Mapping[str, Any]):
    """A read-only mapping of output name -> value that loads each value on first access."""

    def __init__(self, names: list[str], load: Callable[[str], Any]) -> None:
        self._names = names
        self._load = load

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(f"no output named {name!r}; the run has: {', '.join(self._names)}")
        return self._load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class RunResult:
    """A finished run. `result["clean"]` loads an output; `step_results` says what happened."""

    run_id: str
    pipeline: str
    step_results: dict[str, StepResult]
    outputs: Outputs
    duration_seconds: float
    events: list[Event] = field(default_factory=list, repr=False)

    @property
    def status(self) -> str:
        return "failed" if self.failed_steps else "succeeded"

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
