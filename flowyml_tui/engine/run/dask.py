"""`DaskRunner`: steps run on a `dask.distributed` cluster, scheduled by Dask itself.

Dask is imported only when this runner is made. Each task's key holds the step, the run id
(`StepTask.run_id`) and a random part, and every task is submitted `pure=False`, so two runs
of one pipeline, even at once on one cluster, and two calls of a `cache=False` step are never
deduplicated into one. Big inputs are scattered once per run and passed as Dask futures. A
step's lines come back with its outcome and reach `on_log` before its future resolves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import uuid
from concurrent.futures import Future
from typing import Any

from ..capture import LogSink
from ..errors import FlowymlError
from .portable import dump_task, load_task, portable_outcome
from .runner import StepOutcome, StepTask, run_task

BIG_BYTES = 1 << 20
"""An input at least this big (by `nbytes` or length) is scattered, not sent per task."""


def _call_on_worker(payload: bytes, scattered: dict[str, Any]) -> bytes:
    """What a Dask worker runs: the task with its scattered inputs put back."""
    task = load_task(payload)
    if scattered:
        task = dataclasses.replace(task, kwargs={**task.kwargs, **scattered})
    return portable_outcome(run_task(task))


class DaskRunner:
    """Steps on a Dask cluster: `DaskRunner(client=...)` (yours to close) or
    `DaskRunner(address="tcp://...")` (connected here, closed by `close()`)."""

    def __init__(
        self, client: Any = None, *, address: str | None = None, run_id: str | None = None
    ) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise FlowymlError(
                "the Dask runner needs dask.distributed: pip install 'flowyml-tui[dask]'"
            ) from exc
        if (client is None) == (address is None):
            raise ValueError("give DaskRunner either client= or address=, not both or neither")
        self._own_client = client is None
        self.client = client if client is not None else Client(address)
        self.run_id = run_id or uuid.uuid4().hex[:12]
        """In a task's key when the task names no run (the executor's tasks do)."""
        self._scattered: dict[int, tuple[Any, Any]] = {}
        """id(value) -> (value, its Dask future): each big input travels once"""
        self._flying: set[Any] = set()
        self._cluster: Any = None
        self._capacity: int | None = None
        self.submitted = 0
        """Tasks handed to Dask (a fully cached run leaves it at 0)."""

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
        """Steps the driver keeps in flight: the cluster's threads (Dask queues the rest);
        asked of the scheduler once, not per run (a cached run should cost no round trip)."""
        if self._capacity is None:
            try:
                threads = sum(self.client.nthreads().values())
            except Exception:
                threads = 1
            self._capacity = max(2, threads)
        return self._capacity

    @property
    def where(self) -> str:
        return f"dask {self.client.scheduler.address}"

    def submit(self, task: StepTask, on_log: LogSink | None = None) -> Future[StepOutcome]:
        outer: Future[StepOutcome] = Future()
        big = {p: v for p, v in task.kwargs.items() if _is_big(v)}
        small = dataclasses.replace(
            task, kwargs={p: v for p, v in task.kwargs.items() if p not in big}
        )
        try:
            payload = dump_task(small, "a Dask worker")
        except FlowymlError as exc:
            outer.set_exception(exc)
            return outer
        scattered = {p: self._scatter(v) for p, v in big.items()}
        key = f"{task.step}-{task.run_id or self.run_id}-{uuid.uuid4().hex[:8]}"
        inner = self.client.submit(_call_on_worker, payload, scattered, key=key, pure=False)
        self.submitted += 1
        self._flying.add(inner)

        def done(fut: Any) -> None:
            self._flying.discard(fut)
            try:
                outcome: StepOutcome = pickle.loads(fut.result())
            except Exception as exc:  # a lost worker, a dead scheduler, a cancel
                outer.set_exception(
                    FlowymlError(
                        f"step {task.step!r} did not finish on Dask: {type(exc).__name__}: {exc}"
                    )
                )
                return
            if on_log is not None and outcome.logs:
                for stream, text in outcome.logs:
                    on_log(stream, text)
                outcome = dataclasses.replace(outcome, logs=())
            outer.set_result(outcome)

        inner.add_done_callback(done)
        outer.dask_future = inner  # type: ignore[attr-defined]
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


def _is_big(value: Any) -> bool:
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes >= BIG_BYTES
    if isinstance(value, (bytes, bytearray, str)):
        return len(value) >= BIG_BYTES
    return False
