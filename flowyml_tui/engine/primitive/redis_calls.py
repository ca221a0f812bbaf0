"""The Redis tier of call caches: shared by a team, so every value is signed and verified.

Others can write to a shared Redis, so it is held to the step cache's shared tier's rules
(engine/cache/redis_tier.py, cache/sharing.py): the team secret (`FLOWYML_TUI_SECRET` or
`FLOWYML_TUI_SECRET_FILE`) signs each record with HMAC-SHA256, the record names the SHA-256 of
its pickle bytes, and both are checked before anything is unpickled; a record that fails is a
miss (with a warning), never loaded. One GET per hit: the record is

    hmac(key | header) [32] | header: deadline, cost, sha256 [32], kind | pickle

under ``flowyml:calls:v1:<project>:<primitive name>:<key>``, with Redis's own expiry set to
the TTL. Redis down: the error reaches CachePrimitive's guard (one warning, a direct call;
`strict=True` raises), and the tier stays off for `retry_after` seconds so a dead host costs
one connect timeout, not one per call. Past `max_size`, Redis's own `maxmemory` policy
evicts (a per-name LRU would cost a write per read).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import pickle
import struct
import time
from typing import Any

from ..cache.sharing import (
    PROJECT_ENV,
    RETRY_ENV,
    SECRET_ENV,
    SECRET_FILE_ENV,
    SHARED_ENV,
    project_name,
    team_secret,
)
from ..cache.values import serialize
from .errors import CallCacheError
from .memory import EXPIRED, HIT, MISS, NEVER

logger = logging.getLogger("flowyml_tui.cache")

FORMAT = "v1"
TIMEOUT = 0.2
RETRY_AFTER = 30.0
_SIG = 32
_HEADER = struct.Struct("<dd32sB")
_KINDS = {"pickle": 0, "cloudpickle": 1}


class RedisUnavailable(CallCacheError):
    """Redis did not answer (or did recently): the call goes straight to the primitive."""


class Refused(Exception):
    """A record whose signature or SHA-256 does not verify: read as a miss, never unpickled."""


def redis_url_of(redis_url: str | None) -> str:
    url = redis_url or os.environ.get(SHARED_ENV)
    if not url:
        raise CallCacheError(
            f'backend="redis" needs a server: give redis_url="redis://host:6379/0" or set '
            f"{SHARED_ENV} (the same URL the team's shared step cache uses)"
        )
    return url


class RedisTier:
    """One primitive's entries in a shared Redis, signed with the team secret."""

    kind = "redis"
    speed = 2

    def __init__(
        self,
        url: str,
        name: str,
        ttl_seconds: float | None,
        *,
        project: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self._px = None if ttl_seconds is None else max(1, math.ceil(ttl_seconds * 1000))
        """Redis's own expiry; the record's deadline (the primitive's clock) decides hits."""
        self.project = project or os.environ.get(PROJECT_ENV) or project_name()
        self.prefix = f"flowyml:calls:{FORMAT}:{self.project}:{name}:"
        self._retry_after = (
            retry_after
            if retry_after is not None
            else float(os.environ.get(RETRY_ENV, RETRY_AFTER))
        )
        self._down_until = 0.0
        self._client: Any = None
        self._mac: Any = None
        self._errors: tuple[type[BaseException], ...] = (OSError,)
        self.refused = 0

    # -- connection --------------------------------------------------------------------------

    def _redis(self) -> Any:
        """The client, made on first use; raises RedisUnavailable while the breaker is open."""
        if time.monotonic() < self._down_until:
            raise RedisUnavailable(
                f"Redis at {self.url} did not answer; retrying it in at most {self._retry_after:g}s"
            )
        if self._client is None:
            secret = team_secret()
            if secret is None:
                raise CallCacheError(
                    f"a shared call cache must be signed, and no team secret is set: set "
                    f"{SECRET_ENV} (or {SECRET_FILE_ENV}=PATH) to the same value on every "
                    "machine of the team"
                )
            try:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry
            except ImportError:
                raise CallCacheError(
                    "backend=\"redis\" needs redis-py: pip install 'flowyml-tui[redis]'"
                ) from None
            self._mac = hmac.new(secret, digestmod=hashlib.sha256)
            self._errors = (redis.RedisError, OSError)
            self._client = redis.Redis.from_url(
                self.url,
                socket_timeout=TIMEOUT,
                socket_connect_timeout=TIMEOUT,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
            )
        return self._client

    def _call(self, method: str | Any, *args: Any, **kwargs: Any) -> Any:
        """`client.method(*args)`, or `method(client)` for a callable: one guarded round trip."""
        client = self._redis()
        try:
            if callable(method):
                return method(client)
            return getattr(client, method)(*args, **kwargs)
        except self._errors as error:
            self._down_until = time.monotonic() + self._retry_after
            raise RedisUnavailable(
                f"Redis at {self.url} is unreachable ({type(error).__name__}: {error}); "
                f"calls go straight to the primitive, and Redis is tried again in "
                f"{self._retry_after:g}s"
            ) from error

    # -- records -----------------------------------------------------------------------------

    def _sign(self, key: bytes, header: bytes) -> bytes:
        mac = self._mac.copy()  # the keyed state, copied: cheaper than keying per record
        mac.update(key + header)
        return mac.digest()

    def encode(self, key: str, value: Any, expires: float, cost: float) -> bytes:
        payload, kind = serialize(value)
        header = _HEADER.pack(expires, cost, hashlib.sha256(payload).digest(), _KINDS[kind])
        return self._sign((self.prefix + key).encode(), header) + header + payload

    def _verified(self, key: str, record: bytes) -> tuple[float, float, memoryview]:
        """deadline, cost and the payload, once signature and SHA-256 both hold."""
        end = _SIG + _HEADER.size
        if len(record) < end:
            raise Refused("too short to be a signed call-cache record")
        header = record[_SIG:end]
        expected = self._sign((self.prefix + key).encode(), header)
        if not hmac.compare_digest(record[:_SIG], expected):
            raise Refused("unsigned, or signed with another secret")
        expires, cost, digest, _ = _HEADER.unpack(header)
        payload = memoryview(record)[end:]
        if not hmac.compare_digest(hashlib.sha256(payload).digest(), digest):
            raise Refused("its value fails its SHA-256")
        return expires, cost, payload

    def _refuse(self, key: str, why: str) -> None:
        self.refused += 1
        logger.warning(
            "refused call-cache record %r of %r in Redis: %s; treated as a miss and never "
            "unpickled (a teammate with another FLOWYML_TUI_SECRET, or tampering)",
            key,
            self.name,
            why,
        )

    def _read(self, key: str, now: float) -> tuple[str, Any, float, float]:
        record = self._call("get", self.prefix + key)
        if record is None:
            return MISS, None, 0.0, 0.0
        try:
            expires, cost, payload = self._verified(key, record)
        except Refused as why:
            self._refuse(key, str(why))
            return MISS, None, 0.0, 0.0
        if now >= expires:
            return EXPIRED, None, 0.0, 0.0
        return HIT, pickle.loads(payload), expires, cost

    # -- the tier protocol -------------------------------------------------------------------

    def peek(self, key: str, now: float) -> tuple[bool, Any, float, float]:
        status, value, expires, cost = self._read(key, now)
        return status == HIT, value, expires, cost

    def get(self, key: str, now: float) -> tuple[str, Any, float, float]:
        status, value, expires, cost = self._read(key, now)
        if status == EXPIRED:
            self._call("delete", self.prefix + key)
        return status, value, expires, cost

    def set(self, key: str, value: Any, expires: float, cost: float = 0.0) -> None:
        self._redis()  # the secret first: encode signs
        record = self.encode(key, value, expires, cost)
        self._call("set", self.prefix + key, record, px=None if expires == NEVER else self._px)

    def delete(self, key: str) -> bool:
        return bool(self._call("delete", self.prefix + key))

    def _names(self) -> list[bytes]:
        pattern = _glob_escape(self.prefix) + "*"
        return self._call(lambda client: list(client.scan_iter(pattern, 1000)))

    def clear(self) -> None:
        names = self._names()
        for start in range(0, len(names), 500):
            self._call("unlink", *names[start : start + 500])

    def keys(self) -> list[str]:
        cut = len(self.prefix)
        return [name.decode()[cut:] for name in self._names()]

    def size(self) -> int:
        return len(self._names())

    def evict_expired(self, now: float) -> int:
        """Entries whose deadline passed by this primitive's clock (Redis drops the rest)."""
        dead = 0
        for key in self.keys():
            status, _, _, _ = self._read(key, now)
            if status == EXPIRED and self.delete(key):
                dead += 1
        return dead

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _glob_escape(text: str) -> str:
    """`text` matched literally by SCAN's MATCH (a name may hold `*`, `?`, `[` or `\\`)."""
    for special in ("\\", "*", "?", "[", "]"):
        text = text.replace(special, "\\" + special)
    return text
