"""flowyml's `retry=` and `timeout=` around one step call, wherever the call runs.

Retry waits flowyml's backoff, `2 ** attempt` seconds (1 s, 2 s, 4 s ...), between attempts.
A timeout is enforced two ways, because only the main thread can take a signal:

- in the main thread (the inline runner in `flowyml-tui run` and the workbench's worker),
  `signal.setitimer` + `SIGALRM` interrupts the call, even a blocking `time.sleep`; a timer
  the caller had set is put back afterwards;
- in any other thread (a thread or Dask worker) a watchdog timer raises the timeout in the
  step's thread with `PyThreadState_SetAsyncExc`: it lands at the next Python bytecode, so a
  call blocked in C (a long `sleep`, a socket read) fails only once that call returns.
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class StepTimeout(Exception):
    """A step call ran past its `timeout=`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds

    def __reduce__(self) -> tuple[object, ...]:  # crosses to the driver from a worker process
        return (StepTimeout, (self.seconds,), self.__dict__)


def backoff_seconds(attempt: int) -> float:
    """flowyml 2.2.1's wait after failed attempt number `attempt` (0-based): 2 ** attempt."""
    return float(2**attempt)


def with_retries(
    call: Callable[[], T],
    retry: int,
    on_retry: Callable[[int, BaseException], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """(value, retries used); re-raises the last error once `retry` extra attempts failed."""
    for attempt in range(retry + 1):
        try:
            return call(), attempt
        except Exception as exc:
            if attempt >= retry:
                exc.flowyml_retries = attempt  # type: ignore[attr-defined]
                raise
            if on_retry is not None:
                on_retry(attempt + 1, exc)
            sleep(backoff_seconds(attempt))
    raise AssertionError("unreachable")


def with_timeout(call: Callable[[], T], seconds: float | None) -> T:
    """`call()`, failing with `StepTimeout` once it has run `seconds`."""
    if seconds is None:
        return call()
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _alarm(call, seconds)
    return _watchdog(call, seconds)


def _alarm(call: Callable[[], T], seconds: float) -> T:
    def expire(signum: int, frame: Any) -> None:
        raise StepTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        return call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:  # the caller's own timer, less the time the step took
            left = max(outer_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def _watchdog(call: Callable[[], T], seconds: float) -> T:
    thread_id = threading.get_ident()
    done = threading.Event()
    fired = threading.Event()
    lock = threading.Lock()

    def expire() -> None:
        with lock:
            if done.is_set():
                return
            fired.set()
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread_id), ctypes.py_object(_AsyncTimeout)
            )

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        try:
            return call()
        finally:
            with lock:
                done.set()
            timer.cancel()
    except _AsyncTimeout:
        raise StepTimeout(seconds) from None
    finally:
        if fired.is_set():  # an exception set but not yet delivered must not escape later
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)


class _AsyncTimeout(Exception):
    """What the watchdog raises in the step's thread (a class: SetAsyncExc instantiates it)."""
