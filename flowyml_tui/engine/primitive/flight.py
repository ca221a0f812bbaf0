"""Single-flight: concurrent identical misses make one call and share its result or error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from concurrent.futures import Future


class Flights:
    """Calls in flight, by key: the first caller leads, the others wait on its future.

    Coroutines wait on an asyncio future of their own loop; threads on a concurrent one. Keys
    differ between the two, so each kind is deduplicated among its own callers.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, asyncio.Future[object] | Future[object]] = {}

    def join_async(self, key: Hashable) -> tuple[bool, asyncio.Future[object]]:
        """(leads, future): the leader must `settle` the future and `leave`."""
        loop = asyncio.get_running_loop()
        flight = ("async", id(loop), key)
        with self._lock:
            future = self._calls.get(flight)
            if future is None:
                future = self._calls[flight] = loop.create_future()
                return True, future  # type: ignore[return-value]
        return False, future  # type: ignore[return-value]

    def join_thread(self, key: Hashable) -> tuple[bool, Future[object]]:
        flight = ("thread", key)
        with self._lock:
            future = self._calls.get(flight)
            if future is None:
                future = self._calls[flight] = Future()
                return True, future  # type: ignore[return-value]
        return False, future  # type: ignore[return-value]

    def leave_async(self, key: Hashable) -> None:
        with self._lock:
            self._calls.pop(("async", id(asyncio.get_running_loop()), key), None)

    def leave_thread(self, key: Hashable) -> None:
        with self._lock:
            self._calls.pop(("thread", key), None)


def settle_error(future: asyncio.Future[object] | Future[object], error: BaseException) -> None:
    """Hand the leader's error to its followers without "exception never retrieved" noise."""
    if isinstance(future, asyncio.Future):
        if isinstance(error, asyncio.CancelledError):
            future.cancel()
            return
        future.set_exception(error)
        future.exception()
    else:
        future.set_exception(error)
