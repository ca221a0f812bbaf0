"""A submitted step's outcome made into its result: the values kept (or left on the worker
that holds them), fingerprinted and checked against in-place changes to its inputs, its entry
written, and the step reported finished. Only steps that executed come here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from ..events import CallStats, StepStatus
from ..reads.snapshot import ReadSnapshot
from ..result import StepResult
from .held import HeldOutputs, split_outputs
from .inputs import HELD, RunValues
from .runner import StepOutcome
from .storing import EntryWriter
from .submitting import InFlight


class Fail(Protocol):
    """Mark a result failed (and the step broken for what comes after it)."""

    def __call__(
        self, result: StepResult, exc: BaseException, prefix: str, formatted: str | None = None
    ) -> None: ...


class Completer:
    """Completes one run's executed steps. `finish` is `RunLedger.step_finished`, the one
    place a step's end is reported."""

    def __init__(
        self,
        *,
        inputs: RunValues,
        writer: EntryWriter | None,
        used: dict[str, str],
        warn: Callable[[str, str | None], None],
        finish: Callable[..., None],
        fail: Fail,
        drain_logs: Callable[[], None],
    ) -> None:
        self.inputs, self.writer, self.used, self.warn = inputs, writer, used, warn
        self.finish, self.fail, self.drain_logs = finish, fail, drain_logs

    def complete(self, began: InFlight) -> StepResult:
        """Take the step's outcome (waiting for it if need be): store and report it."""
        step, decision, result, kwargs = began.step, began.decision, began.result, began.kwargs
        error, error_traceback = began.error, None
        reads: ReadSnapshot | None = None
        outcome: StepOutcome | None = None
        if began.future is not None:
            try:
                outcome = began.future.result()
                result.retries = outcome.retries
                if outcome.calls:
                    result.calls = tuple(CallStats(*c) for c in outcome.calls)
                reads = outcome.reads
                if outcome.error is None and outcome.held is not None:
                    self.drain_logs()
                    return self._complete_held(began, outcome, outcome.held, reads)
                if outcome.error is None:
                    values = split_outputs(step.name, tuple(step.outputs), outcome.value)
                else:  # the step raised: its traceback was formatted where it ran
                    error, error_traceback = outcome.error, outcome.traceback
            except Exception as exc:
                error = exc
        self.drain_logs()  # its lines came before the future resolved
        if error is not None:
            result.duration_seconds = _took(began, outcome)
            self.fail(result, error, prefix="failed: ", formatted=error_traceback)
            if step.retry:
                result.reason += f" (after {result.retries + 1} attempts)"
            if kwargs is not None:
                self.inputs.check_mutations(step, kwargs, result)
            self.finish(step, result)
            return result
        assert kwargs is not None
        _executed(began, outcome)
        self.inputs.check_mutations(step, kwargs, result)
        fps = [
            self.inputs.fingerprint_output(step, name, value, result)
            for name, value in zip(step.outputs, values, strict=True)
        ]
        kept = self.inputs.values
        for name, value in zip(step.outputs, values, strict=True):
            kept[name] = value
        self.inputs.produced(step, fps, result)
        entry = None
        if decision.recipe is not None and self.writer is not None:
            entry = self.writer.from_values(step, decision.recipe, values, fps, result, reads)
            if entry is not None:
                self.used[step.name] = entry.key
        self.inputs.stored_in(step, entry)
        self.finish(step, result, entry=entry, values=values, reads=reads)
        return result

    def _complete_held(
        self,
        began: InFlight,
        outcome: StepOutcome,
        held: HeldOutputs,
        reads: ReadSnapshot | None,
    ) -> StepResult:
        """`complete` for outputs that stayed on the runner's workers: their fingerprints,
        previews and bytes for the store came back, the values did not."""
        step, decision, result = began.step, began.decision, began.result
        _executed(began, outcome)
        params = {param: name for name, param in step.bindings}
        for param in held.changed:  # the worker saw the step change its input in place
            self.inputs.mutated_upstream(step, params[param], HELD, result)
        fps = [
            fp or self.inputs.unhashable_output(step, name, problem, result)
            for name, fp, problem in zip(
                step.outputs, held.fingerprints, held.problems, strict=True
            )
        ]
        values, on_workers = self.inputs.values, self.inputs.held
        for index, name in enumerate(step.outputs):
            if held.values is None:
                values.pop(name, None)
                on_workers[name] = (held.handle, index)
            else:  # small: they came along
                values[name] = held.values[index]
                on_workers.pop(name, None)
        self.inputs.produced(step, fps, result)
        entry = None
        if decision.recipe is not None and self.writer is not None:
            if held.blob_problem is not None:
                self.writer.not_cacheable(step, held.blob_problem, result)
            elif held.blobs is None:
                message = f"step {step.name}: no bytes came back to cache"
                result.warnings.append(message)
                self.warn(message, step.name)
            else:
                entry = self.writer.from_blobs(
                    step,
                    decision.recipe,
                    list(held.blobs),
                    list(held.formats),
                    list(held.previews),
                    fps,
                    result,
                    checksums=list(held.checksums),
                    reads=reads,
                )
                if entry is not None:
                    self.used[step.name] = entry.key
        self.inputs.stored_in(step, entry)
        self.finish(step, result, entry=entry, previews=held.previews, reads=reads)
        return result


def _took(began: InFlight, outcome: StepOutcome | None) -> float:
    """The step's time from its start (arguments loaded included), less the time between its
    hand-over to the runner and its call's start: a task may wait behind another on its
    worker (`--jobs` keeps one queued per worker, Dask queues more). Never less than the call
    itself, whatever another machine's clock says."""
    elapsed = time.perf_counter() - began.started
    if outcome is None or not outcome.started_at or not began.handed_at:
        return elapsed
    waited = outcome.started_at - began.handed_at
    return elapsed - min(max(waited, 0.0), max(elapsed - outcome.duration_seconds, 0.0))


def _executed(began: InFlight, outcome: StepOutcome | None) -> None:
    """A step that ran to the end: its time, its status, and a reason that says so when it
    took more than one call (the Why pane and the record show it)."""
    result = began.result
    result.duration_seconds = _took(began, outcome)
    result.status = StepStatus.EXECUTED
    if result.retries:
        result.reason += f" (after {result.retries + 1} attempts)"
