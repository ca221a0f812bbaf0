"""`DaskRunner`: steps run on a `dask.distributed` cluster, scheduled by Dask itself.

Dask is imported only when this runner is made. Each task's key holds the step, the run id
(`StepTask.run_id`) and a random part, and every task is submitted `pure=False`, so two runs
of one pipeline, even at once on one cluster, and two calls of a `cache=False` step are never
deduplicated into one. Big inputs are scattered once per run and passed as Dask futures. A
step's lines come back with its outcome and reach `on_log` before its future resolves.

Values stay on the cluster (`run.held`): a step whose outputs are big returns a holder that
stays in its worker's memory; a second small task sends the driver the outcome without the
values (fingerprints, previews, and the pickled bytes when the driver writes an entry). A
consumer gets each input as a Dask future of the producer's output, so Dask moves it worker to
worker. A step whose outputs are small (they come to the driver anyway, `held.SMALL_BYTES`)
returns its outcome itself: one task, as a bare `client.submit`. The driver tells the two apart
by the result's type, which Dask reports with the key before anything is gathered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import pickle
import uuid
from concurrent.futures import Future
from typing import Any

import msgspec

from ..call.capture import LogSink
from ..errors import FlowymlError, SettingError
from .held import hold
from .portable import dump_task, load_task, portable_outcome
from .runner import StepOutcome, StepTask, run_task

BIG_BYTES = 1 << 20
"""An input at least this big (by `nbytes` or length) is scattered, not sent per task."""


def _call_on_worker(
    payload: bytes, inputs: dict[str, Any], held: tuple[str, ...] = ()
) -> _Holder | tuple[bytes, ...]:
    """What a Dask worker runs: the task with its Dask-delivered inputs put back. With a
    `HoldSpec` big outputs stay in the returned holder and only their summary is sent on;
    otherwise (small outputs, a failure, no `HoldSpec`) it returns that summary itself.

    `held` names the inputs another step's task holds on the cluster. Dask recomputes such a
    value by itself when the worker holding it is lost, and a step whose result varies then
    returns something else than what the driver keyed this step by: each is fingerprinted
    first, and one that differs fails the step instead of being cached under the wrong key.
    """
    task = load_task(payload)
    if inputs:
        task = msgspec.structs.replace(task, kwargs={**task.kwargs, **inputs})
    moved = _recomputed(task, held)
    if moved is not None:
        return (portable_outcome(StepOutcome(task.step, error=moved, traceback=f"{moved}\n")),)
    outcome = run_task(task)
    if outcome.error is not None or task.hold is None:
        return (portable_outcome(outcome),)
    try:
        values, summary = hold(task.step, task.hold, outcome.value, task.kwargs)
    except Exception as exc:  # outputs that do not match the declaration
        failed = msgspec.structs.replace(
            outcome, value=None, error=exc, traceback=f"{type(exc).__name__}: {exc}\n"
        )
        return (portable_outcome(failed),)
    holder = _Holder(values, msgspec.structs.replace(outcome, value=None, held=summary))
    if summary.values is not None:  # small: they travel with the summary, nothing to keep
        return _outcome_of(holder)
    return holder


def _recomputed(task: StepTask, held: tuple[str, ...]) -> FlowymlError | None:
    """The error for a held input that is not the value the step was keyed by, or None."""
    if not held or task.hold is None:
        return None
    from ..hashing import Unfingerprintable, fingerprint

    for param in held:
        expected = task.hold.input_fps.get(param)
        if expected is None:
            continue
        try:
            found = fingerprint(task.kwargs[param])
        except Unfingerprintable:
            continue
        if found != expected:
            return FlowymlError(
                f"step {task.step!r} got input {param!r} as another value than the one it "
                "was keyed by: the Dask worker holding it was lost and Dask computed its "
                "producer again, which returned something else; run again"
            )
    return None


@dataclasses.dataclass(slots=True)
class _Holder:
    """A step's outputs in a worker's memory, beside the outcome the driver is sent."""

    values: tuple[Any, ...]
    outcome: StepOutcome


def _outcome_of(holder: _Holder | tuple[bytes, ...]) -> tuple[bytes, ...]:
    """What the driver gathers of a step: the outcome without the values, then the outputs'
    bytes for the store as frames of their own (Dask sends bytes without copying them into a
    pickle). The holder lets go of those bytes: only the values stay. A step's result that
    is already its summary is passed through."""
    if not isinstance(holder, _Holder):
        return holder
    outcome = holder.outcome
    held = outcome.held
    if held is None or not held.blobs:
        return (portable_outcome(outcome),)
    holder.outcome = msgspec.structs.replace(outcome, held=msgspec.structs.replace(held, blobs=()))
    return (portable_outcome(holder.outcome), *held.blobs)


def _output_of(holder: _Holder, index: int) -> Any:
    """One output's value, on the worker that holds it, for the consumers that need it."""
    return holder.values[index]


def _register_sizeof() -> None:
    """Dask sizes a holder by its values, so it schedules consumers where they already are."""
    from dask.sizeof import sizeof

    @sizeof.register(_Holder)
    def _holder_size(holder: _Holder) -> int:
        return int(sizeof(holder.values))


_register_sizeof()


@dataclasses.dataclass(frozen=True, slots=True)
class _Ref:
    """A step input that is output `index` of a holder on the cluster."""

    handle: _Handle
    index: int


class _Handle:
    """The driver's hold on a step's outputs on the cluster (a `held.Handle`)."""

    def __init__(self, runner: DaskRunner, holder: Any) -> None:
        self._runner, self._holder = runner, holder
        self._outputs: dict[int, Any] = {}

    def ref(self, index: int) -> _Ref:
        return _Ref(self, index)

    def future(self, index: int) -> Any:
        """A Dask future of output `index`, made once and reused by every consumer."""
        found = self._outputs.get(index)
        if found is None:
            found = self._runner.client.submit(
                _output_of, self._holder, index, key=f"{self._holder.key}-out{index}"
            )
            self._outputs[index] = found
        return found

    def fetch(self, index: int) -> Any:
        try:
            return self.future(index).result()
        except Exception as exc:
            raise FlowymlError(
                f"the value of {self._holder.key} output {index} could not be fetched from the "
                f"Dask cluster ({type(exc).__name__}: {exc}); is the runner closed or the "
                "worker gone? Run again to recompute it"
            ) from exc


@dataclasses.dataclass(frozen=True, slots=True)
class _Here:
    """A `held.Handle` on outputs small enough that they came to the driver with the outcome."""

    values: tuple[Any, ...]

    def ref(self, index: int) -> Any:
        return self.values[index]

    def fetch(self, index: int) -> Any:
        return self.values[index]


QUICK_SECONDS = 0.05
"""Steps this quick get more in flight than the cluster has threads (`capacity`)."""

IN_FLIGHT_PER_THREAD = 128
"""Quick steps submitted per cluster thread at once: in effect every ready one, as a bare
`client.submit` of the same tasks does, so Dask's scheduler takes them in batches. A 200-step
fan-out on 2 threads was 2x the bare figure at two a thread, 1.43-1.58x at eight, 1.20-1.33x
at this (`benchmarks/bench_fanout.py`, 15 rounds each, interleaved). What stays in the
driver for them is each task's payload, about 1 kB: big inputs are scattered or held on the
cluster."""

CONNECT_SECONDS = 10
"""How long to wait for a scheduler named by address before saying it cannot be reached."""


def _connect(address: str) -> Any:
    """A client of the scheduler at `address`; one clear error if it does not answer in time."""
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise SettingError(
            f"cannot reach the Dask scheduler at {address} (no answer within "
            f"{CONNECT_SECONDS} s); start it, check --dask ADDRESS, or pass --dask local "
            "for a cluster on this machine"
        ) from exc


class DaskRunner:
    """Steps on a Dask cluster: `DaskRunner(client=...)` (yours to close) or
    `DaskRunner(address="tcp://...")` (connected here, closed by `close()`)."""

    def __init__(
        self, client: Any = None, *, address: str | None = None, run_id: str | None = None
    ) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise FlowymlError(
                "the Dask runner needs dask.distributed: pip install 'flowyml-tui[dask]'"
            ) from exc
        if (client is None) == (address is None):
            raise ValueError("give DaskRunner either client= or address=, not both or neither")
        self._own_client = client is None
        self.client = client if client is not None else _connect(address)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        """In a task's key when the task names no run (the executor's tasks do)."""
        self._scattered: dict[int, tuple[Any, Any]] = {}
        """id(value) -> (value, its Dask future): each big input travels once"""
        self._flying: set[Any] = set()
        self._key_prefix = uuid.uuid4().hex[:6]
        """With a counter, what makes each task's key unique (a random draw per task cost
        more than the task's own scheduling on a busy machine)."""
        self._keys = itertools.count()
        self._cluster: Any = None
        self._threads: int | None = None
        self._quick = False
        """The last step that came back took under `QUICK_SECONDS`."""
        self.submitted = 0
        """Tasks handed to Dask (a fully cached run leaves it at 0)."""

    holds_values = True
    """A step's outputs stay on the worker that made them; consumers get them there."""

    @classmethod
    def local(cls, n_workers: int | None = None) -> DaskRunner:
        """A `LocalCluster` of worker processes (Dask's defaults without `n_workers`),
        started now and shut down by `close()`."""
        from distributed import Client, LocalCluster

        options = {} if n_workers is None else {"n_workers": n_workers, "threads_per_worker": 1}
        cluster = LocalCluster(processes=True, dashboard_address=None, **options)
        runner = cls(client=Client(cluster))
        runner._own_client = True
        runner._cluster = cluster
        return runner

    @property
    def capacity(self) -> int:
        """Steps the driver keeps in flight, asked at a run's start: `IN_FLIGHT_PER_THREAD`
        per cluster thread while the last step was quick, so a thread that finishes one finds
        the next already on the cluster instead of waiting a round trip through the driver;
        else one a thread (a submitted step shows as running, and behind long steps it would
        wait). The threads are asked of the scheduler once, not per run (a cached run should
        cost no round trip)."""
        if self._threads is None:
            try:
                self._threads = sum(self.client.nthreads().values())
            except Exception:
                self._threads = 1
        per_thread = IN_FLIGHT_PER_THREAD if self._quick else 1
        return max(2, self._threads * per_thread)

    @property
    def where(self) -> str:
        return f"dask {self.client.scheduler.address}"

    def submit(self, task: StepTask, on_log: LogSink | None = None) -> Future[StepOutcome]:
        outer: Future[StepOutcome] = Future()
        remote: dict[str, Any] = {}
        kwargs: dict[str, Any] = {}
        for param, value in task.kwargs.items():
            if isinstance(value, _Ref):  # already on the cluster: Dask moves it if need be
                remote[param] = value.handle.future(value.index)
            elif _is_big(value):
                remote[param] = self._scatter(value)
            else:
                kwargs[param] = value
        try:
            payload = dump_task(msgspec.structs.replace(task, kwargs=kwargs), "a Dask worker")
        except FlowymlError as exc:
            outer.set_exception(exc)
            return outer
        key = f"{task.step}-{task.run_id or self.run_id}-{self._key_prefix}{next(self._keys)}"
        held = tuple(p for p, v in task.kwargs.items() if isinstance(v, _Ref))
        holder = self.client.submit(_call_on_worker, payload, remote, held, key=key, pure=False)
        self.submitted += 1
        self._flying.add(holder)

        def ran(fut: Any) -> None:
            """The step's task ended: its summary is its result, or (big outputs, kept on
            the worker) comes from a second task on that worker."""
            if fut.status != "finished" or fut.type is tuple:
                done(fut, kept=False)  # the outcome itself, or an error: nothing is kept
                return
            try:
                summary = self.client.submit(_outcome_of, holder, key=f"{key}-outcome")
            except BaseException as exc:  # the client closed under the run
                self._flying.discard(holder)
                outer.set_exception(_lost(task.step, exc))
                return
            self._flying.add(summary)
            summary.add_done_callback(done)

        def done(fut: Any, kept: bool = True) -> None:
            self._flying.discard(fut)
            self._flying.discard(holder)
            try:
                first, *blobs = fut.result()
                outcome: StepOutcome = pickle.loads(first)
            except BaseException as exc:  # a lost worker, a dead scheduler, a cancel
                outer.set_exception(_lost(task.step, exc))
                return
            self._quick = outcome.duration_seconds < QUICK_SECONDS
            if on_log is not None and outcome.logs:
                for stream, text in outcome.logs:
                    on_log(stream, text)
                outcome = msgspec.structs.replace(outcome, logs=())
            if outcome.held is not None:
                handle = _Handle(self, holder) if kept else _Here(outcome.held.values or ())
                held = msgspec.structs.replace(outcome.held, handle=handle)
                if blobs:
                    held = msgspec.structs.replace(held, blobs=tuple(blobs))
                outcome = msgspec.structs.replace(outcome, held=held)
            outer.set_result(outcome)

        holder.add_done_callback(ran)
        outer.dask_future = holder  # type: ignore[attr-defined]
        return outer

    def cancel(self) -> None:
        """Cancel this runner's tasks still on the cluster."""
        flying, self._flying = list(self._flying), set()
        with contextlib.suppress(Exception):
            self.client.cancel(flying)

    def close(self) -> None:
        scattered, self._scattered = self._scattered, {}
        if scattered:
            with contextlib.suppress(Exception):
                self.client.cancel([f for _, f in scattered.values()])
        if self._own_client:
            self._own_client = False
            self.client.close()
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.close()

    def _scatter(self, value: Any) -> Any:
        found = self._scattered.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        future = self.client.scatter(value, direct=False, hash=False)
        self._scattered[id(value)] = (value, future)
        return future


def _lost(step: str, exc: BaseException) -> FlowymlError:
    """Why a step's task gave no outcome, said for the user."""
    kind = type(exc).__name__
    if kind == "KilledWorker":
        why = "the Dask worker running it died (killed, out of memory, or it crashed)"
    elif kind in ("CancelledError", "FutureCancelledError"):
        why = "it was cancelled (a new run started, or the run was stopped)"
    else:
        why = "the cluster lost it"
    return FlowymlError(f"step {step!r} did not finish on Dask: {why}; {kind}: {exc}")


def _is_big(value: Any) -> bool:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes >= BIG_BYTES
    if isinstance(value, (bytes, bytearray, str)):
        return len(value) >= BIG_BYTES
    return False
