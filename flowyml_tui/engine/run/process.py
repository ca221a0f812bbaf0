"""`ProcessRunner`: steps run in a pool of local worker processes, several at once.

The pool's processes are started fresh (`spawn`), so no driver state leaks into a step.
Each task travels as cloudpickle bytes; functions of a pipeline file (and of the modules
beside it) go by value, so a worker never imports the pipeline file again. Captured lines
come back live on one queue drained by a thread of the driver; each task ends its lines with
a marker, and its future resolves only after that marker, so every line of a step arrives
before its outcome.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
import uuid
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..call.capture import LogSink
from ..errors import FlowymlError
from .portable import dump_task, load_task, portable_outcome
from .runner import StepOutcome, StepTask, run_task

_LOGS: Any = None
"""The worker side of the log queue, set by `_init_worker`."""


PARENT_CHECK_SECONDS = 0.25
"""How often a pool process checks that the process that started it is still alive."""


def _init_worker(logs: Any, parent: int) -> None:
    global _LOGS
    _LOGS = logs
    # Ctrl-C reaches the whole process group: the driver decides, and kills us if need be.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="flowyml-parent-watch", daemon=True
    ).start()


def _exit_with_parent(parent: int) -> None:
    """A pool process whose driver died (SIGKILL, a crash) exits within a fraction of a
    second instead of running its step unwatched: orphaned, it is re-parented elsewhere.

    Polling the parent's pid rather than `PR_SET_PDEATHSIG`: that signal follows the thread
    that started the process, and the pool may start one from a thread that ends first.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(70)


def _call_in_worker(payload: bytes, token: str) -> tuple[bytes, bool]:
    """What a pool process runs: the task, its lines sent as they come, then the marker.

    Returns the outcome and whether any line was sent. A step that printed nothing sends no
    marker either: the driver then has no line to wait for, and each such step costs one
    message between the processes instead of two (and no hop through the drainer thread).
    """
    task = load_task(payload)
    logs = _LOGS
    sent = False

    def on_log(stream: str, text: str) -> None:
        nonlocal sent
        sent = True
        logs.put((token, stream, text))

    try:
        outcome = run_task(task, on_log)
    finally:
        if sent:
            logs.put((token, None, None))
    return portable_outcome(outcome), sent


class _Pending:
    __slots__ = ("lines_done", "on_log", "outcome", "outer")

    def __init__(self, on_log: LogSink | None) -> None:
        self.on_log = on_log
        self.outer: Future[StepOutcome] = Future()
        self.lines_done = False
        self.outcome: bytes | None = None


class ProcessRunner:
    """A local pool of `max_workers` processes (default: one per core).

    User code never runs in the driver. `cancel()` kills the pool's processes; a process
    that dies mid-step fails the steps then in the pool, and the next submission starts a
    new pool. Close it when done (or use it as a context manager).
    """

    holds_values = False
    """Outputs come back with each outcome: a pool process keeps nothing between steps."""

    def __init__(self, max_workers: int | None = None, *, start_method: str = "spawn") -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.capacity = max_workers or os.cpu_count() or 1
        """How many steps the driver may have submitted at once."""
        self._context = multiprocessing.get_context(start_method)
        self._pool: ProcessPoolExecutor | None = None
        self._logs: Any = None
        self._drainer: threading.Thread | None = None
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- the protocol ----------------------------------------------------------------------

    def submit(self, task: StepTask, on_log: LogSink | None = None) -> Future[StepOutcome]:
        pending = _Pending(on_log)
        if self._closed:
            pending.outer.set_exception(RuntimeError("this ProcessRunner is closed"))
            return pending.outer
        try:
            payload = dump_task(task, "a worker process")
        except FlowymlError as exc:
            pending.outer.set_exception(exc)
            return pending.outer
        token = uuid.uuid4().hex
        with self._lock:
            self._pending[token] = pending
        pool = self._ensure_pool()
        try:
            inner = pool.submit(_call_in_worker, payload, token)
        except BrokenProcessPool:  # died since the last call: a fresh pool for this one
            self._discard_pool()
            inner = self._ensure_pool().submit(_call_in_worker, payload, token)
        inner.add_done_callback(lambda f: self._returned(token, task.step, f))
        return pending.outer

    def cancel(self) -> None:
        """Kill the pool's processes now: what ran in them fails; the runner stays usable."""
        pool = self._pool
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            if process.is_alive():
                process.kill()
        self._discard_pool()
        # A process killed in the middle of a `put` holds the queue's write lock for ever:
        # the next pool gets a new queue, and nothing here waits on this one again (its
        # drainer, a daemon thread, stays blocked on it).
        self._logs = self._drainer = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._logs is not None:
            self._logs.put(None)  # stops the drainer
            if self._drainer is not None:
                self._drainer.join(timeout=5)

    def __enter__(self) -> ProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self.cancel()
        self.close()

    # -- inside ----------------------------------------------------------------------------

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._logs is None:
            self._logs = self._context.SimpleQueue()
            self._drainer = threading.Thread(
                target=self._drain, name="flowyml-process-logs", daemon=True
            )
            self._drainer.start()
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.capacity,
                mp_context=self._context,  # type: ignore[arg-type]
                initializer=_init_worker,
                initargs=(self._logs, os.getpid()),
            )
        return self._pool

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _drain(self) -> None:
        logs = self._logs
        while True:
            try:
                message = logs.get()
            except (EOFError, OSError):  # the queue was closed under us: nothing more comes
                return
            if message is None:
                return
            token, stream, text = message
            with self._lock:
                pending = self._pending.get(token)
            if pending is None:
                continue
            if stream is None:
                with self._lock:
                    pending.lines_done = True
                self._resolve_if_done(token, pending)
            elif pending.on_log is not None:
                pending.on_log(stream, text)

    def _returned(self, token: str, step: str, inner: Future[tuple[bytes, bool]]) -> None:
        with self._lock:
            pending = self._pending.get(token)
        if pending is None:
            return
        error = None if inner.cancelled() else inner.exception()
        if inner.cancelled() or error is not None:
            with self._lock:
                self._pending.pop(token, None)
            if isinstance(error, BrokenProcessPool) or inner.cancelled():
                error = FlowymlError(
                    f"the worker process running step {step!r} died before it finished "
                    "(killed, out of memory, or the run was cancelled); run it again, and "
                    "with --jobs 1 if it keeps dying"
                )
            _settle(pending.outer, error=error)
            return
        outcome, lines_sent = inner.result()
        with self._lock:
            pending.outcome = outcome
            if not lines_sent:  # no line, so no marker: nothing else to wait for
                pending.lines_done = True
        self._resolve_if_done(token, pending)

    def _resolve_if_done(self, token: str, pending: _Pending) -> None:
        with self._lock:
            if pending.outcome is None or not pending.lines_done:
                return
            if self._pending.pop(token, None) is None:
                return
        try:
            outcome = pickle.loads(pending.outcome)
        except Exception as exc:  # a class the driver cannot import
            _settle(pending.outer, error=exc)
            return
        _settle(pending.outer, outcome=outcome)


def _settle(
    future: Future[StepOutcome],
    *,
    outcome: StepOutcome | None = None,
    error: BaseException | None = None,
) -> None:
    """Resolve a step's future unless the run cancelled it already (Ctrl-C): then the
    outcome has nobody to go to, and must not become an `InvalidStateError` traceback."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)  # type: ignore[arg-type]
    except InvalidStateError:
        pass
