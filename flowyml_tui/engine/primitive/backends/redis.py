"""The Redis tier of call caches: shared by a team, so every value is signed and verified.

Others can write to a shared Redis, so it is held to the step cache's shared tier's rules and
uses its parts: the team secret (`FLOWYML_TUI_SECRET` or `FLOWYML_TUI_SECRET_FILE`) signs each
record in the one shared format (`cache.signed`: bound to its Redis key and kind, the SHA-256
of the payload checked after the HMAC), before anything is unpickled; a record that fails, or
one copied from another key, is a miss (with a warning), never loaded. One GET per hit: the
signed payload is ``deadline, cost, kind | pickle`` under

    flowyml:calls:v2:<len>:<project><len>:<primitive name><len>:<key>

every part length-prefixed, so no name and key of one primitive spell another's. Redis's own
expiry is set to the TTL. Redis down: the error reaches CachePrimitive's guard (one warning, a
direct call; `strict=True` raises), and the link's breaker (`cache.redis_link`) keeps the tier
off for `retry_after` seconds so a dead host costs one connect timeout, not one per call. Past
`max_size`, Redis's own `maxmemory` policy evicts (a per-name LRU would cost a write per read).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import struct
from typing import Any

from ...cache.redis_link import LinkDown, RedisLink
from ...cache.sharing import (
    PROJECT_ENV,
    RETRY_ENV,
    SECRET_ENV,
    SECRET_FILE_ENV,
    SHARED_ENV,
    project_name,
    team_secret,
)
from ...cache.signed import CALL, Refused, Signer, glob_escape, parts, single_part
from ...cache.values import serialize
from ..errors import CallCacheError
from .memory import EXPIRED, HIT, MISS, NEVER

logger = logging.getLogger("flowyml_tui.cache")

FORMAT = "v2"
RETRY_AFTER = 30.0
_HEADER = struct.Struct("<ddB")
_KINDS = {"pickle": 0, "cloudpickle": 1}


class RedisUnavailable(CallCacheError):
    """Redis did not answer (or did recently): the call goes straight to the primitive."""


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
    path = None

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
        self.prefix = f"flowyml:calls:{FORMAT}:{parts(self.project, name)}"
        self._retry_after = (
            retry_after
            if retry_after is not None
            else float(os.environ.get(RETRY_ENV, RETRY_AFTER))
        )
        self._link: RedisLink | None = None
        self._signer: Signer | None = None
        self.refused = 0

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> tuple[RedisLink, Signer]:
        """The link and signer, made on first use (a missing secret or redis-py says so)."""
        if self._link is None or self._signer is None:
            secret = team_secret()
            if secret is None:
                raise CallCacheError(
                    f"a shared call cache must be signed, and no team secret is set: set "
                    f"{SECRET_ENV} (or {SECRET_FILE_ENV}=PATH) to the same value on every "
                    "machine of the team"
                )
            try:
                self._link = RedisLink(self.url, retry_after=self._retry_after)
            except ImportError:
                raise CallCacheError(
                    "backend=\"redis\" needs redis-py: pip install 'flowyml-tui[redis]'"
                ) from None
            self._signer = Signer(secret)
        return self._link, self._signer

    def _call(self, method: str | Any, *args: Any, **kwargs: Any) -> Any:
        """`client.method(*args)`, or `method(client)` for a callable: one guarded round trip."""
        link, _ = self._connect()
        client = link.client
        operation = (lambda: method(client)) if callable(method) else getattr(client, method)
        try:
            return link.call(operation, *args, **kwargs)
        except LinkDown as down:
            raise RedisUnavailable(
                f"Redis at {self.url} is unreachable ({down.reason}); calls go straight to the "
                f"primitive, and Redis is tried again within {self._retry_after:g}s"
            ) from down

    # -- records -----------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        return f"{self.prefix}{len(key)}:{key}"  # parts(key), inlined: once per hit

    def encode(self, key: str, value: Any, expires: float, cost: float) -> bytes:
        _, signer = self._connect()
        payload, kind = serialize(value)
        record = _HEADER.pack(expires, cost, _KINDS[kind]) + payload
        return signer.sign(self._name(key), CALL, record)

    def _verified(self, name: str, record: bytes) -> tuple[float, float, memoryview]:
        """deadline, cost and the pickle read from `name`, once signature, key, kind and
        SHA-256 all hold."""
        signer = self._signer or self._connect()[1]  # set by the GET that read `record`
        payload = signer.verify(name, CALL, record)
        if len(payload) < _HEADER.size:
            raise Refused("too short to be a call-cache record")
        expires, cost, _ = _HEADER.unpack_from(payload)
        return expires, cost, payload[_HEADER.size :]

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
        name = self._name(key)
        record = self._call("get", name)
        if record is None:
            return MISS, None, 0.0, 0.0
        try:
            expires, cost, payload = self._verified(name, record)
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
            self._call("delete", self._name(key))
        return status, value, expires, cost

    def set(self, key: str, value: Any, expires: float, cost: float = 0.0) -> None:
        record = self.encode(key, value, expires, cost)
        self._call("set", self._name(key), record, px=None if expires == NEVER else self._px)

    def delete(self, key: str) -> bool:
        return bool(self._call("delete", self._name(key)))

    def _names(self) -> list[bytes]:
        pattern = glob_escape(self.prefix) + "*"
        return self._call(lambda client: list(client.scan_iter(pattern, 1000)))

    def clear(self) -> None:
        names = self._names()
        for start in range(0, len(names), 500):
            self._call("unlink", *names[start : start + 500])

    def keys(self) -> list[str]:
        cut = len(self.prefix)
        found = (single_part(name.decode(errors="replace")[cut:]) for name in self._names())
        return [key for key in found if key is not None]  # not a name planted under ours

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
        if self._link is not None:
            self._link.close()
            self._link = None
