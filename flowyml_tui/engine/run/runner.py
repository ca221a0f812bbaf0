"""Where a step's function runs: a `StepRunner` takes a picklable `StepTask` and returns a future.

The driver decides hits and never submits them; only steps that execute reach a runner. The
call itself is `run_task`, a module-level function of the task alone (plus an optional log
callback), so a thread, a process pool or a Dask worker can run it as well as `InlineRunner`.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from ..call.capture import LogSink
from ..call.event_loop import StepLoop
from ..call.invoke import call_step
from ..call.scope import step_scope
from ..reads.model import ReadSpec
from ..reads.recorder import Recording, recording
from ..reads.snapshot import ReadSnapshot, snapshot

if TYPE_CHECKING:  # imported when first needed: a fully cached run never makes a future
    from concurrent.futures import Future

    from .held import HeldOutputs, HoldSpec

_ENGINE_DIR = os.path.dirname(os.path.dirname(__file__))


class StepTask(msgspec.Struct, frozen=True):
    """One call of one step's function: everything a worker needs, nothing bound to the run.

    Pickled, the function goes by reference where it can and by value (cloudpickle) where
    it cannot, e.g. a function its `@step` decorator shadows in its module.
    """

    step: str
    func: Callable[..., Any]
    kwargs: Mapping[str, Any]
    capture: bool = True
    """Capture the step's prints and log records into the outcome (and `on_log`)."""
    retry: int = 0
    """Extra attempts after a failing call (flowyml's `retry=`), with its backoff between."""
    timeout: float | None = None
    """Seconds each attempt may take (`timeout=`): see `run.attempts` for how it is enforced."""
    run_id: str = ""
    """The run this call belongs to: a cluster keys its task by it, so two runs of one
    pipeline are never merged into one."""
    calls_dir: str | None = None
    """Where the step's call caches (CachePrimitive without `backend=`) persist; None: in
    memory only (no step cache)."""
    hold: HoldSpec | None = None
    """For a runner that keeps values on its workers: how to summarise the outputs there."""
    reads: ReadSpec | None = None
    """What to record of the files the call reads; None: nothing (no entry will be kept)."""

    def __reduce__(self) -> tuple[Any, ...]:
        import cloudpickle  # only when a task leaves the process

        return (
            _rebuild_task,
            (
                self.step,
                cloudpickle.dumps(self.func),
                self.kwargs,
                self.capture,
                self.retry,
                self.timeout,
                self.run_id,
                self.calls_dir,
                self.hold,
                self.reads,
            ),
        )


def _rebuild_task(
    step: str,
    func: bytes,
    kwargs: Mapping[str, Any],
    capture: bool,
    retry: int = 0,
    timeout: float | None = None,
    run_id: str = "",
    calls_dir: str | None = None,
    hold: HoldSpec | None = None,
    reads: ReadSpec | None = None,
) -> StepTask:
    import pickle

    return StepTask(
        step, pickle.loads(func), kwargs, capture, retry, timeout, run_id, calls_dir, hold, reads
    )


class StepOutcome(msgspec.Struct, frozen=True):
    """What came back from one call: the returned value, or the exception and its traceback."""

    step: str
    value: Any = None
    """What the function returned (the driver splits it into the step's outputs)."""
    error: BaseException | None = None
    traceback: str = ""
    """The user's frames of the failure, formatted where it happened (it may not travel)."""
    logs: tuple[tuple[str, str], ...] = ()
    """(stream, text) in the order the step wrote them, when no `on_log` took them (a step's
    output can be large: it is not held twice)."""
    duration_seconds: float = 0.0
    retries: int = 0
    """Attempts after the first (flowyml's `retries`): 0 unless the step has `retry=`."""
    calls: tuple[tuple[str, int, int, float, tuple[str, ...]], ...] = ()
    """Its call caches' use: (name, hits, misses, seconds saved, disk slots) per primitive."""
    held: HeldOutputs | None = None
    """Set instead of `value` when the runner kept the outputs where they were made."""
    reads: ReadSnapshot | None = None
    """What the call read, digested where it ran (when the task asked for it)."""
    started_at: float = 0.0
    """Wall clock (`time.time()`) when the call began where it ran: a step that waited behind
    another on its worker does not count the wait as its own time."""

    @property
    def ok(self) -> bool:
        return self.error is None


class StepRunner(Protocol):
    """Runs submitted steps somewhere; the driver waits on the futures it gets back."""

    capacity: int
    """How many steps it runs at once: above 1 the driver submits each step as soon as its
    upstream steps are done."""
    holds_values: bool
    """Outputs stay on its workers (`HoldSpec`); the driver gets summaries and fetches a
    value only when something in this process needs it."""

    def submit(self, task: StepTask, on_log: LogSink | None = None) -> Future[StepOutcome]:
        """Start the call; `on_log` gets each captured line, from any thread, before the
        future resolves (or, without one, the lines are in `StepOutcome.logs`). A failing
        step resolves the future with an outcome, not an error."""
        ...

    def cancel(self) -> None:
        """Stop what is still running (a cancelled run, Ctrl-C); the runner stays usable."""
        ...

    def close(self) -> None:
        """Release what the runner holds (event loop, pool, client connection); idempotent."""
        ...


def run_task(
    task: StepTask, on_log: LogSink | None = None, loop: StepLoop | None = None
) -> StepOutcome:
    """Call the task's function and report how it went; exceptions become the outcome.

    `loop` is the event loop the caller's async steps share; without one an async step gets
    a loop of its own, closed after it.
    """
    logs: list[tuple[str, str]] = []
    sink = None
    if task.capture:  # lines go to `on_log` as they come, else are kept for the outcome
        sink = on_log if on_log is not None else lambda stream, text: logs.append((stream, text))
    started_at, started = time.time(), time.perf_counter()
    retries = 0
    spec = task.reads
    with (
        step_scope(task.calls_dir) as calls,
        recording(spec.excluded) if spec is not None and spec.track else nullcontext() as recorded,
    ):
        try:
            if task.retry or task.timeout is not None:
                value, retries = _call_with_policy(task, sink, loop)
            else:
                value = call_step(task.step, task.func, task.kwargs, sink, loop)
        except Exception as exc:
            return StepOutcome(
                step=task.step,
                error=exc,
                traceback=user_traceback(exc),
                logs=tuple(logs),
                duration_seconds=time.perf_counter() - started,
                retries=getattr(exc, "flowyml_retries", 0),
                calls=calls.summary(),
                started_at=started_at,
            )
    reads = None
    if spec is not None:  # digested before the duration is taken: it is part of the step
        reads = snapshot(recorded or Recording(()), spec.declared, spec.root)
    return StepOutcome(
        step=task.step,
        value=value,
        logs=tuple(logs),
        duration_seconds=time.perf_counter() - started,
        retries=retries,
        calls=calls.summary(),
        reads=reads,
        started_at=started_at,
    )


def _call_with_policy(
    task: StepTask, sink: LogSink | None, loop: StepLoop | None
) -> tuple[Any, int]:
    """`call_step` under the task's timeout, attempted `1 + retry` times."""
    from .attempts import with_retries, with_timeout

    def attempt() -> Any:
        return with_timeout(
            lambda: call_step(task.step, task.func, task.kwargs, sink, loop), task.timeout
        )

    def note(number: int, exc: BaseException) -> None:
        if sink is not None:
            sink("stderr", f"attempt {number} failed ({type(exc).__name__}: {exc}); retrying\n")

    return with_retries(attempt, task.retry, note)


class InlineRunner:
    """Runs each step in the calling thread at submission: the future is done when returned.

    Its async steps share one event loop until `close()`; after that each gets its own.
    """

    capacity = 1
    holds_values = False

    def __init__(self) -> None:
        self._loop: StepLoop | None = StepLoop()

    def submit(self, task: StepTask, on_log: LogSink | None = None) -> Future[StepOutcome]:
        from concurrent.futures import Future

        future: Future[StepOutcome] = Future()
        try:
            future.set_result(run_task(task, on_log, self._loop))
        except BaseException as exc:  # KeyboardInterrupt, SystemExit: the caller re-raises
            future.set_exception(exc)
        return future

    def cancel(self) -> None:
        """Nothing runs behind the caller's back: a call in progress is the caller's own."""

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()


def user_traceback(exc: BaseException) -> str:
    """The traceback from the user's frame down: the engine's own frames are noise here."""
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if not f.filename.startswith(_ENGINE_DIR)]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(user or frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)
