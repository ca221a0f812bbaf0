"""`ProcessRunner`: steps run in local worker processes, several at once.

The workers are started fresh (`spawn`), so no driver state leaks into a step. Functions of a
pipeline file (and of the modules beside it) go by value, so a worker never imports the
pipeline file again; each is sent to a worker once while its bytes stay exact (`shipping`).

Each worker has one pipe (`pool_worker`), and a step's lines and outcome come back on it in
order. The driver sends a worker its next task while it runs the current one (when the task
is small), and one reader thread in the driver reads every worker's lines and outcomes (all
that has arrived in one read, `Inbox`) and refills a worker's pipe the moment an outcome
arrives, so a worker does not wait for the driver's main thread between two steps. This
replaced a `ProcessPoolExecutor`, whose feeder, manager and log-drainer threads cost the
driver more CPU a step than the trivial steps of a wide fan-out did.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import pickle
import selectors
import threading
import weakref
from collections import deque
from concurrent.futures import Future, InvalidStateError
from typing import Any

from ..call.capture import LogSink
from ..errors import FlowymlError
from .pool_worker import LINE, STOP, serve
from .portable import pack_task, task_parts
from .runner import StepOutcome, StepTask
from .shipping import Shipped

PER_WORKER = (1, 2)
"""Tasks sent to a worker at once, filled level by level: its running one, then one behind."""

QUICK_SECONDS = 0.05
"""A task waits in a worker's pipe only behind a worker whose last step took less than this:
behind a long step it would wait while another worker may be free."""

PIPE_ROOM = 1 << 15
"""A task at most this big may wait in a busy worker's pipe: it fits the pipe's buffer, so
sending it never blocks the driver (a bigger one waits in the driver for a free worker)."""

CLOSE_SECONDS = 5
"""How long `close()` lets a worker finish its step before it is killed."""

READ_BYTES = 1 << 16
"""What one read of a worker's pipe asks for at least; more while a big message is coming."""
READ_MOST = 1 << 24
"""...but never more than this at once (a read allocates what it asks for)."""


class _Pending:
    """A submitted task until its outcome is in: waiting for a worker, then on one."""

    __slots__ = ("digest", "fields", "function", "future", "on_log", "step")

    def __init__(
        self, step: str, parts: tuple[bytes, bytes, bytes], on_log: LogSink | None
    ) -> None:
        self.step, self.on_log = step, on_log
        self.digest, self.function, self.fields = parts
        self.future: Future[StepOutcome] = Future()

    def payload(self, shipped: Shipped) -> bytes:
        """Its bytes for one worker: with the function only if that worker lacks it."""
        function = self.function if shipped.needs(self.digest) else None
        return pack_task(self.digest, function, self.fields)

    def fits_behind(self) -> bool:
        """Small enough to wait in a busy worker's pipe without blocking the sender."""
        return len(self.function) + len(self.fields) <= PIPE_ROOM


class _Worker:
    """One worker process, its end of the pipe, and the tasks sent to it: the first runs,
    the one behind it waits in the pipe."""

    __slots__ = ("conn", "inbox", "process", "quick", "sent", "shipped")

    def __init__(self, context: Any, parent: int) -> None:
        self.conn, theirs = context.Pipe(duplex=True)
        self.process = context.Process(
            target=serve, args=(theirs, parent), name="flowyml-step-worker"
        )
        self.process.start()
        theirs.close()
        self.sent: deque[_Pending] = deque()
        self.shipped = Shipped()
        """The step functions this worker holds (a new worker holds none)."""
        self.quick = False
        """Its last step took under `QUICK_SECONDS`: a task may wait behind its next one."""
        self.inbox = Inbox()
        """What the reader has read from its pipe and not handled yet."""


class Inbox:
    """The messages a worker sends, framed as `Connection.send_bytes` frames them (a 4-byte
    big-endian length, or -1 and an 8-byte one), read with one `os.read` for as many as have
    arrived: `recv_bytes` made two reads and a `BytesIO` per message, and a step's lines and
    its outcome often arrive together."""

    __slots__ = ("buffer",)

    def __init__(self) -> None:
        self.buffer = bytearray()

    def read(self, fd: int) -> list[bytes]:
        """The whole messages read by one `os.read` of `fd` (maybe none yet). EOFError when
        the pipe closed, in the middle of a message or not."""
        buffer = self.buffer
        chunk = os.read(fd, max(READ_BYTES, min(self._missing(), READ_MOST)))
        if not chunk:
            raise EOFError
        buffer += chunk
        messages = []
        while True:
            framed = self._frame()
            if framed is None:
                return messages
            start, end = framed
            with memoryview(buffer) as view:  # one copy of a big message, not two
                messages.append(bytes(view[start:end]))
            del buffer[:end]

    def _frame(self) -> tuple[int, int] | None:
        """(start, end) of the first whole message in the buffer, or None."""
        buffer = self.buffer
        if len(buffer) < 4:
            return None
        size = int.from_bytes(buffer[:4], "big", signed=True)
        start = 4
        if size == -1:  # over 2 GiB: the real length follows
            if len(buffer) < 12:
                return None
            size, start = int.from_bytes(buffer[4:12], "big"), 12
        end = start + size
        return (start, end) if len(buffer) >= end else None

    def _missing(self) -> int:
        """Bytes still to come of the message begun in the buffer (0 if none is begun)."""
        buffer = self.buffer
        if len(buffer) < 4:
            return 0
        size = int.from_bytes(buffer[:4], "big", signed=True)
        if size == -1:
            if len(buffer) < 12:
                return 0
            return 12 + int.from_bytes(buffer[4:12], "big") - len(buffer)
        return 4 + size - len(buffer)


class ProcessRunner:
    """`max_workers` local worker processes (default: one per core).

    User code never runs in the driver. `cancel()` kills the workers; a worker that dies
    mid-step fails that step, and a new worker takes its place. Close it when done (or use it
    as a context manager).
    """

    holds_values = False
    """Outputs come back with each outcome: a worker keeps nothing between steps."""

    def __init__(self, max_workers: int | None = None, *, start_method: str = "spawn") -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.workers = max_workers or os.cpu_count() or 1
        """How many worker processes run steps at once."""
        self._context = multiprocessing.get_context(start_method)
        self._pool: list[_Worker] = []
        self._waiting: deque[_Pending] = deque()
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._wake_read, self._wake_write = os.pipe()
        self._closed = False
        _LIVE.add(self)

    # -- the protocol ----------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Steps the driver keeps submitted, asked at a run's start: one a worker, or two
        (one waiting behind the running one) while every worker's last step was quick. A
        submitted step shows as running, so a queue behind long steps would show steps
        running that wait, in the TUI and on the run's timeline."""
        pool = self._pool
        if pool and all(worker.quick for worker in pool):
            return self.workers * PER_WORKER[-1]
        return self.workers

    def submit(self, task: StepTask, on_log: LogSink | None = None) -> Future[StepOutcome]:
        try:
            parts = task_parts(task, "a worker process")
        except FlowymlError as exc:
            failed: Future[StepOutcome] = Future()
            failed.set_exception(exc)
            return failed
        pending = _Pending(task.step, parts, on_log)
        with self._lock:
            if self._closed:
                pending.future.set_exception(RuntimeError("this ProcessRunner is closed"))
                return pending.future
            self._waiting.append(pending)
            self._start_workers()
            self._hand_out()
        return pending.future

    def cancel(self) -> None:
        """Kill the workers now: what ran or waited fails; the runner stays usable."""
        with self._lock:
            pool, self._pool = self._pool, []
            lost = [p for w in pool for p in w.sent] + list(self._waiting)
            self._waiting.clear()
        for worker in pool:
            worker.sent.clear()
            with contextlib.suppress(Exception):
                worker.process.kill()
        for pending in lost:
            _settle(pending.future, error=_died(pending.step))

    def close(self) -> None:
        """Let each worker finish its step (for up to `CLOSE_SECONDS`), then stop them."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool = list(self._pool)
            waiting = list(self._waiting)
            self._waiting.clear()
        for pending in waiting:
            _settle(pending.future, error=RuntimeError("this ProcessRunner is closed"))
        for worker in pool:
            with contextlib.suppress(OSError):
                worker.conn.send_bytes(STOP)
        for worker in pool:
            worker.process.join(CLOSE_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1)
        with self._lock:
            self._pool = []
        self._wake()  # the reader, which read their last outcomes, sees them gone and ends
        if self._reader is not None:
            self._reader.join(CLOSE_SECONDS)
        for worker in pool:
            worker.conn.close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
        _LIVE.discard(self)

    def __enter__(self) -> ProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            self.cancel()
        self.close()

    # -- inside ----------------------------------------------------------------------------

    def _start_workers(self) -> None:
        """Up to `workers` live processes (under the lock); the reader starts with the first."""
        started = False
        while len(self._pool) < self.workers:
            self._pool.append(_Worker(self._context, os.getpid()))
            started = True
        if self._reader is None:
            self._reader = threading.Thread(
                target=self._read, name="flowyml-process-reader", daemon=True
            )
            self._reader.start()
        elif started:
            self._wake()

    def _hand_out(self) -> None:
        """Send waiting tasks to workers (under the lock, so each worker's pipe gets them in
        the order of its `sent`): a free worker first, then one more behind each running
        task when the task is small and the worker's steps are quick, so a worker that
        finishes finds its next task in its pipe without waiting for the driver."""
        waiting = self._waiting
        for depth in PER_WORKER:
            for worker in self._pool:
                if not waiting:
                    return
                if len(worker.sent) >= depth:
                    continue
                if worker.sent and not (worker.quick and waiting[0].fits_behind()):
                    continue
                pending = waiting.popleft()
                worker.sent.append(pending)
                # One that died since it was free fails when the reader sees its pipe close.
                with contextlib.suppress(OSError):
                    _send(worker.conn.fileno(), pending.payload(worker.shipped))

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def _read(self) -> None:
        """The reader thread: every worker's lines and outcomes, as they come. One selector
        for the runner's life (`multiprocessing.connection.wait` builds one per call)."""
        watching: dict[int, _Worker] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_read, selectors.EVENT_READ)
            while True:
                with self._lock:
                    if self._closed and not self._pool:
                        return
                    for worker in self._pool:
                        fd = worker.conn.fileno()
                        if fd not in watching:
                            watching[fd] = worker
                            selector.register(fd, selectors.EVENT_READ)
                try:
                    ready = selector.select()
                except OSError:
                    return
                for key, _ in ready:
                    if key.fd == self._wake_read:
                        with contextlib.suppress(OSError):
                            os.read(self._wake_read, 512)
                        continue
                    worker = watching[key.fd]
                    try:
                        messages = worker.inbox.read(key.fd)
                    except (EOFError, OSError):
                        selector.unregister(key.fd)
                        del watching[key.fd]
                        self._lost(worker)  # closes its pipe: its number may be reused
                        continue
                    for message in messages:
                        if message[:1] == LINE:
                            self._line(worker, message)
                        else:
                            self._outcome(worker, message)

    def _line(self, worker: _Worker, message: bytes) -> None:
        pending = worker.sent[0] if worker.sent else None
        if pending is not None and pending.on_log is not None:
            # A sink that fails loses its line, not the reader thread (every step's).
            with contextlib.suppress(Exception):
                pending.on_log(*pickle.loads(message[1:]))

    def _outcome(self, worker: _Worker, message: bytes) -> None:
        """The worker took its next task: it is refilled first, then the outcome delivered."""
        outcome: StepOutcome | None = None
        problem: Exception | None = None
        try:
            outcome = pickle.loads(memoryview(message)[1:])
        except Exception as exc:  # a class the driver cannot import
            problem = exc
        with self._lock:
            worker.quick = outcome is not None and outcome.duration_seconds < QUICK_SECONDS
            pending = worker.sent.popleft() if worker.sent else None
            if worker in self._pool:
                self._hand_out()
        if pending is not None:  # else cancelled meanwhile: nobody waits for it
            _settle(pending.future, outcome=outcome, error=problem)

    def _lost(self, worker: _Worker) -> None:
        """A worker's pipe closed: it died (or was killed by `cancel`). Its step fails; the
        task waiting behind it never started, and goes back to the front of the line; a new
        worker takes its place if tasks wait."""
        with self._lock:
            pending = worker.sent.popleft() if worker.sent else None
            self._waiting.extendleft(reversed(worker.sent))
            worker.sent.clear()
            if worker in self._pool:
                self._pool.remove(worker)
            if self._waiting and not self._closed:
                self._start_workers()
                self._hand_out()
        worker.conn.close()
        worker.process.join(1)
        if pending is not None:
            _settle(pending.future, error=_died(pending.step))


def _send(fd: int, message: bytes) -> None:
    """`message` framed as `Connection.send_bytes` frames it (what the worker's `recv_bytes`
    reads), written straight to the pipe: the connection's checks and copies cost a trivial
    task's driver more than the write."""
    size = len(message)
    if size > 0x7FFFFFFF:
        header = (-1).to_bytes(4, "big", signed=True) + size.to_bytes(8, "big")
    else:
        header = size.to_bytes(4, "big")
    if size > PIPE_ROOM:  # not copied to join it to its header
        _write_all(fd, header)
        _write_all(fd, message)
    else:
        _write_all(fd, header + message)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _died(step: str) -> FlowymlError:
    return FlowymlError(
        f"the worker process running step {step!r} died before it finished "
        "(killed, out of memory, or the run was cancelled); run it again, and "
        "with --jobs 1 if it keeps dying"
    )


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


_LIVE: weakref.WeakSet[ProcessRunner] = weakref.WeakSet()


@atexit.register
def _close_live_runners() -> None:
    """Workers are not daemons (a step may start processes of its own), so `multiprocessing`
    would wait for them at exit: a runner nobody closed is closed here first. A second Ctrl-C
    while this runs (pressed again at exit) kills what is left instead of printing a traceback."""
    try:
        for runner in list(_LIVE):
            runner.cancel()
            runner.close()
    except KeyboardInterrupt:
        for runner in list(_LIVE):
            runner.cancel()
