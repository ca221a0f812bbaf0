"""`Breaker`: a backend that fails is skipped for a while, and the run is told once.

The object store is reached through fsspec, whose errors are whatever the backend raises
(OSError, botocore's, aiohttp's). Any of them but "not found" opens the breaker: for
`retry_after` seconds every call fails at once with `SharedTierDown`, so a dead bucket costs
one failure per run, not one per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .. import notices as kinds
from ..notices import Notices
from ..protocols import SharedTierDown

RETRY_AFTER = 30.0

T = TypeVar("T")


class Breaker:
    """Calls to one object store behind one breaker, reporting into `notices`."""

    def __init__(self, url: str, notices: Notices, retry_after: float = RETRY_AFTER) -> None:
        self.url, self.notices, self.retry_after = url, notices, retry_after
        self._down_until = 0.0
        self._reason = ""
        self.round_trips = 0

    @property
    def online(self) -> bool:
        return time.monotonic() >= self._down_until

    def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """One operation; FileNotFoundError passes through (an answer, not a failure)."""
        if not self.online:
            self._tell()
            raise SharedTierDown(self.url)
        self.round_trips += 1
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as exc:
            self._down_until = time.monotonic() + self.retry_after
            self._reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            self._tell()
            raise SharedTierDown(self.url) from exc

    def _tell(self) -> None:
        self.notices.add(
            kinds.OFFLINE,
            f"the blob store at {self.url} is unreachable ({self._reason}); this run goes on "
            f"with the local cache only and retries the blob store in {self.retry_after:g}s",
        )
