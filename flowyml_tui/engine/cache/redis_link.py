"""`RedisLink`: one Redis URL as both shared tiers (steps and calls) talk to it.

Every round trip has a bounded timeout and no retry, and the first failure opens a breaker: for
`retry_after` seconds every call fails at once with `LinkDown`, so a dead or frozen server
costs one timeout per run, not one per step or per call. A big value gets a client whose read
timeout allows its transfer, so a busy server is not mistaken for a dead one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

TIMEOUT = 0.2
RETRY_AFTER = 30.0
BULK_RATE = 25 * 2**20
"""Bytes per second a value transfer is allowed: a 64 MB value gets 0.2 s + 2.6 s, while
connecting stays bounded by `TIMEOUT`."""
BULK_MIN = 2**20

T = TypeVar("T")


class LinkDown(Exception):
    """The server did not answer, now or within the last `retry_after` seconds.

    `reason` is the error that opened the breaker (``ConnectionError: ...``)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url} is unreachable ({reason})")
        self.reason = reason


class RedisLink:
    """Clients for one URL behind one breaker (redis-py is imported here, on first use)."""

    def __init__(
        self, url: str, *, timeout: float = TIMEOUT, retry_after: float = RETRY_AFTER
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url, self.timeout, self.retry_after = url, timeout, retry_after
        self._open = lambda seconds: redis.Redis.from_url(
            url,
            socket_timeout=seconds,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self.client = self._open(timeout)
        """For metadata: every round trip bounded by `timeout`."""
        self._bulk: dict[int, Any] = {}
        self._errors = (redis.RedisError, OSError)
        self._down_until = 0.0
        self._reason = ""

    @property
    def online(self) -> bool:
        return time.monotonic() >= self._down_until

    def bulk(self, nbytes: int) -> Any:
        """The metadata client, or for a big transfer one whose timeout allows it."""
        if nbytes < BULK_MIN:
            return self.client
        seconds = math.ceil(self.timeout + nbytes / BULK_RATE)  # a few clients, reused
        client = self._bulk.get(seconds)
        if client is None:
            client = self._bulk[seconds] = self._open(seconds)
        return client

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One round trip; a failure opens the breaker. Raises `LinkDown` while it is open."""
        if not self.online:
            raise LinkDown(self.url, self._reason)
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            self._down_until = time.monotonic() + self.retry_after
            self._reason = f"{type(exc).__name__}: {exc}"
            raise LinkDown(self.url, self._reason) from exc

    def close(self) -> None:
        for client in (self.client, *self._bulk.values()):
            client.close()
        self._bulk.clear()
