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
        """One read; FileNotFoundError passes through (an answer, not a failure)."""
        return self._call(fn, args, kwargs, missing_is_an_answer=True)

    def write(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """One write: every error is a failure (a bucket that does not exist included)."""
        return self._call(fn, args, kwargs, missing_is_an_answer=False)

    def _call(
        self, fn: Callable[..., T], args: tuple, kwargs: dict, *, missing_is_an_answer: bool
    ) -> T:
        if not self.online:
            self._tell()
            raise SharedTierDown(self.url)
        self.round_trips += 1
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            if missing_is_an_answer:
                raise
            self._open(FileNotFoundError.__name__, "the bucket or folder does not exist")
            raise SharedTierDown(self.url) from None
        except Exception as exc:
            self._open(type(exc).__name__, str(exc))
            raise SharedTierDown(self.url) from exc

    def _open(self, kind: str, text: str) -> None:
        self._down_until = time.monotonic() + self.retry_after
        self._reason = f"{kind}: {text}".splitlines()[0][:300]
        self._tell()

    def _tell(self) -> None:
        self.notices.add(
            kinds.OFFLINE,
            f"the blob store at {self.url} is unreachable or refused ({self._reason}); this run "
            f"goes on with the local cache only and retries the blob store in "
            f"{self.retry_after:g}s",
        )
