"""Handing a step that executes to the runner: its start reported, its arguments loaded, its
output lines routed back to the driver thread as events, the task built and submitted."""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from ..call.log_files import OutputTail
from ..call.scope import calls_dir
from ..define.graph import Graph
from ..events import Event, StepLog, StepStarted, StepStatus
from ..result import StepResult
from ..step import Step
from .decide import Decision
from .held import HoldSpec
from .inputs import RunValues
from .keying import Keying
from .runner import StepRunner, StepTask

if TYPE_CHECKING:
    from concurrent.futures import Future
    from pathlib import Path

    from .runner import StepOutcome


class InFlight(msgspec.Struct):
    """A step submitted to the runner and not yet completed."""

    step: Step
    decision: Decision
    result: StepResult
    started: float
    future: Future[StepOutcome] | None = None
    kwargs: dict[str, Any] | None = None
    error: BaseException | None = None
    """Set when the step failed before it could be submitted (its arguments)."""
    handed_at: float = 0.0
    """Wall clock when the task went to the runner: what it waited there is not its time."""


class Submitter:
    """Submits one run's executing steps to its runner; log lines from the runner's threads
    wait in a queue until the driver thread drains them (events are emitted on one thread)."""

    def __init__(
        self,
        *,
        run_id: str,
        graph: Graph,
        keys: Keying,
        inputs: RunValues,
        runner: StepRunner,
        store_path: Path | None,
        events: list[Event],
        emit: Callable[[Event], None],
        sink: Callable[[Event], None] | None,
    ) -> None:
        self.run_id, self.graph, self.keys, self.inputs = run_id, graph, keys, inputs
        self.runner, self.events, self.emit, self.sink = runner, events, emit, sink
        self.store_path = store_path
        self.stores = store_path is not None
        self.holds = runner.holds_values
        self.driver = threading.get_ident()
        self.log_queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    @functools.cached_property
    def calls_dir(self) -> str | None:
        """Where the steps' call caches persist: worked out at the first step that executes,
        never in a run whose every step was cached."""
        return str(calls_dir(self.store_path)) if self.store_path is not None else None

    def submit(self, step: Step, decision: Decision, result: StepResult) -> InFlight:
        """Report the step started and hand its call to the runner; inputs are loaded here."""
        self.emit(
            StepStarted(
                run_id=self.run_id,
                step=step.name,
                started_at=time.time(),
                reason=decision.reason,
                reason_kind=decision.kind.value,
            )
        )
        result.status = StepStatus.RUNNING
        result.reason, result.reason_kind = decision.reason, decision.kind
        result.changed, result.diff = decision.changed, decision.diff
        if decision.recipe is not None:
            result.code_hash = self.keys.shown_code_hash(step, decision.recipe.code_hash)
        on_log = self._log_router(step, result)
        began = InFlight(step, decision, result, time.perf_counter())
        try:
            began.kwargs = self.inputs.arguments(step)
            self.inputs.keep_originals(step)
            task = StepTask(
                step.name,
                step.func,
                began.kwargs,
                retry=step.retry,
                timeout=step.timeout,
                run_id=self.run_id,
                calls_dir=self.calls_dir,
                hold=self._hold_spec(step, decision) if self.holds else None,
                reads=self.keys.read_spec(step) if decision.recipe is not None else None,
            )
            began.handed_at = time.time()
            began.future = self.runner.submit(task, on_log)
        except Exception as exc:
            began.error = exc
        return began

    def drain_logs(self) -> None:
        """Emit the log lines runner threads queued, in the order they came."""
        log_queue = self.log_queue
        while True:
            try:
                emit = log_queue.get_nowait()
            except queue.Empty:
                return
            emit()

    def _log_router(self, step: Step, result: StepResult) -> Callable[[str, str], None]:
        """Where the runner sends the step's lines: a `StepLog` event each, and the bounded
        tail the result keeps (the log file has them all)."""
        tail = OutputTail(step.name, result.logs, self.events)

        def log_event(stream: str, text: str) -> None:
            event = StepLog(run_id=self.run_id, step=step.name, stream=stream, text=text)
            tail.add(stream, text, event)
            if self.sink is not None:
                self.sink(event)

        def on_log(stream: str, text: str) -> None:
            if threading.get_ident() == self.driver:
                log_event(stream, text)
            else:  # a runner's thread: the driver turns it into an event
                self.log_queue.put(lambda: log_event(stream, text))

        return on_log

    def _hold_spec(self, step: Step, decision: Decision) -> HoldSpec:
        """What a worker that keeps the outputs must send back: the blobs only when an entry
        will be written, and the fingerprints of the upstream inputs it may change in place."""
        fps = self.keys.output_fps
        return HoldSpec(
            outputs=tuple(step.outputs),
            want_blobs=decision.recipe is not None and self.stores,
            input_fps={
                param: fps[name]
                for name, param in step.bindings
                if name in self.graph.producers and not fps[name].startswith("unhashable-")
            },
        )
