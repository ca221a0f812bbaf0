"""RedisTier: the team's shared `EntryStore`, signed because others can write to it.

Keys (no Python `hash()`, so every process and machine agrees):

- ``flowyml:v<KEY_FORMAT>:<project>:e:<key>``      signed header: the entry, the SHA-256 of each
                                                   value, who wrote it; ``<hmac hex>.<json>``
- ``flowyml:v<KEY_FORMAT>:<project>:v:<sha256>``   a value's pickle bytes, content-addressed
- ``flowyml:v<KEY_FORMAT>:<project>:s:<fn hash>``  signed source text of one function
- ``flowyml:v<KEY_FORMAT>:<project>:n:<json [pipeline, step]>`` sorted set of entry keys by time

Every key carries a TTL. A header whose HMAC (team secret) does not verify, or a value whose
SHA-256 differs from the one its header names, is refused: a miss, counted, with a warning, and
never unpickled. Redis down or slow: one bounded timeout, then a circuit breaker keeps the run
local for `retry_after` seconds, with one warning.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import logging
import math
import pickle
import socket
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from .entry import KEY_FORMAT, Entry
from .protocols import CorruptEntry

log = logging.getLogger(__name__)

DEFAULT_TTL = 30 * 24 * 3600
DEFAULT_MAX_VALUE = 64 * 2**20
TIMEOUT = 0.2
RETRY_AFTER = 30.0
BULK_RATE = 25 * 2**20
"""Bytes per second a value transfer is allowed: a 64 MB value gets 0.2 s + 2.6 s, so a busy
server is not mistaken for a dead one, while connecting stays bounded by `TIMEOUT`."""
BULK_MIN = 2**20
PREFETCH_VERSIONS = 4
"""Newest entries per step fetched by `prefetch`: the current one is nearly always among them."""


class Header(msgspec.Struct, frozen=True, kw_only=True):
    """What is signed: the entry, the SHA-256 of each value, and who wrote it."""

    entry: Entry
    sha256: list[str]
    host: str
    user: str


_HEADER_ENCODER = msgspec.json.Encoder()
_HEADER_DECODER = msgspec.json.Decoder(Header)


class SharedTierDown(Exception):
    """The shared tier is not reachable right now (the breaker is open)."""


class RedisTier:
    """An `EntryStore` over Redis (redis-py), namespaced by project and key format."""

    def __init__(
        self,
        url: str,
        *,
        project: str,
        secret: bytes,
        ttl: int = DEFAULT_TTL,
        max_value: int = DEFAULT_MAX_VALUE,
        timeout: float = TIMEOUT,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url, self.project, self.ttl, self.max_value = url, project, ttl, max_value
        self.path = Path(url)
        self.unreadable: set[str] = set()
        self._secret = secret
        self._prefix = f"flowyml:v{KEY_FORMAT}:{project}:"
        self._open = lambda seconds: redis.Redis.from_url(
            url,
            socket_timeout=seconds,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
        )
        self._timeout = timeout
        self._redis = self._open(timeout)
        self._bulk: dict[int, Any] = {}
        self._errors = (redis.RedisError, OSError)
        self._retry_after = retry_after
        self._down_until = 0.0
        self._warned = False
        self._headers: dict[str, Header] = {}
        self._refused: set[str] = set()
        """Keys refused once: not fetched (nor warned about) again until rewritten."""
        self.counts = {"hits": 0, "refused": 0, "not_shared": 0, "round_trips": 0}
        self.not_shared: list[str] = []
        """Keys of entries this process kept local: a value over `max_value`. Redis notes them
        too (``big:<key>``), so `cache stats` on any machine says what was not shared."""

    def __repr__(self) -> str:
        return f"RedisTier({self.url!r}, project={self.project!r})"

    # -- the breaker -----------------------------------------------------------------------

    @property
    def online(self) -> bool:
        return time.monotonic() >= self._down_until

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One round trip; a failure opens the breaker (one warning) and raises SharedTierDown."""
        if not self.online:
            raise SharedTierDown(self.url)
        self.counts["round_trips"] += 1
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            self._down_until = time.monotonic() + self._retry_after
            if not self._warned:
                self._warned = True
                message = (
                    f"the shared cache at {self.url} is unreachable ({type(exc).__name__}: "
                    f"{exc}); this run goes on with the local cache only and retries the "
                    f"shared one in {self._retry_after:g}s"
                )
                log.warning(message)
                warnings.warn(message, stacklevel=4)
            raise SharedTierDown(self.url) from exc

    def _client(self, nbytes: int) -> Any:
        """The metadata client, or for a big value one whose timeout allows its transfer."""
        if nbytes < BULK_MIN:
            return self._redis
        seconds = math.ceil(self._timeout + nbytes / BULK_RATE)  # a few clients, reused
        client = self._bulk.get(seconds)
        if client is None:
            client = self._bulk[seconds] = self._open(seconds)
        return client

    # -- signing ---------------------------------------------------------------------------

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest().encode() + b"." + payload

    def _verified(self, raw: bytes, what: str) -> bytes | None:
        sig, _, payload = raw.partition(b".")
        expected = hmac.new(self._secret, payload, hashlib.sha256).hexdigest().encode()
        if hmac.compare_digest(sig, expected):
            return payload
        self._refuse(f"{what} is unsigned or signed with another secret")
        return None

    def _refuse(self, why: str) -> None:
        self.counts["refused"] += 1
        message = f"refused a shared cache item: {why}; treated as a miss"
        log.warning(message)
        warnings.warn(message, stacklevel=4)

    def _header(self, key: str, raw: bytes | None) -> Header | None:
        if raw is None:
            return None
        payload = self._verified(raw, f"the entry {key}")
        if payload is None:
            self._refused.add(key)
            return None
        try:
            header = _HEADER_DECODER.decode(payload)
        except msgspec.DecodeError:
            self.unreadable.add(key)
            return None
        if header.entry.key != key or len(header.sha256) != len(header.entry.sizes):
            self._refuse(f"the entry {key} does not match its key")
            self._refused.add(key)
            return None
        self._headers[key] = header
        return header

    # -- EntryStore ------------------------------------------------------------------------

    def refresh(self) -> None:
        self._headers.clear()

    def get_entry(self, key: str) -> Entry | None:
        header = self._headers.get(key)
        if header is None:
            if key in self._refused:
                return None
            raw = self._call(self._redis.get, self._prefix + "e:" + key)
            header = self._header(key, raw)
        if header is not None:
            self.counts["hits"] += 1
        return header.entry if header else None

    def get_entries(self, keys: Iterable[str]) -> dict[str, Entry]:
        """Many entries in one round trip (MGET): what a cached run's metadata costs."""
        keys = list(keys)
        wanted = [k for k in keys if k not in self._headers and k not in self._refused]
        if wanted:
            raws = self._call(self._redis.mget, [self._prefix + "e:" + k for k in wanted])
            for key, raw in zip(wanted, raws, strict=True):
                self._header(key, raw)
        return {k: self._headers[k].entry for k in keys if k in self._headers}

    def prefetch(self, pipeline: str, steps: Iterable[str]) -> dict[str, Entry]:
        """The newest entries of these steps, in two round trips for the whole DAG."""
        names = list(steps)
        pipe = self._redis.pipeline(transaction=False)
        for step in names:
            pipe.zrevrange(self._scope(pipeline, step), 0, PREFETCH_VERSIONS - 1)
        found = self._call(pipe.execute)
        return self.get_entries(k.decode() for keys in found for k in keys)

    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        keys = self._call(self._redis.zrevrange, self._scope(pipeline, step), 0, 0)
        return self.get_entry(keys[0].decode()) if keys else None

    def writer(self, key: str) -> str | None:
        """`user@host` who wrote a shared entry this process has read, for the Why pane."""
        header = self._headers.get(key)
        return f"{header.user}@{header.host}" if header else None

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        """Values, sources, header and index in one pipelined round trip; big values stay local."""
        if any(len(b) > self.max_value for b in blobs):
            self.counts["not_shared"] += 1
            self.not_shared.append(meta.key)
            note = {"pipeline": meta.pipeline, "step": meta.step, "bytes": sum(map(len, blobs))}
            self._call(
                self._redis.set, self._prefix + "big:" + meta.key, json.dumps(note), ex=self.ttl
            )
            return
        digests = [hashlib.sha256(b).hexdigest() for b in blobs]
        header = Header(entry=meta, sha256=digests, host=socket.gethostname(), user=_user())
        p, ttl = self._prefix, self.ttl
        pipe = self._client(sum(map(len, blobs))).pipeline(transaction=True)
        for digest, blob in zip(digests, blobs, strict=True):
            pipe.set(p + "v:" + digest, blob, ex=ttl)
        for fn_hash, text in sources.items():
            pipe.set(p + "s:" + fn_hash, self._sign(text.encode()), ex=ttl)
        pipe.set(p + "e:" + meta.key, self._sign(_HEADER_ENCODER.encode(header)), ex=ttl)
        scope = self._scope(meta.pipeline, meta.step)
        pipe.zadd(scope, {meta.key: meta.created_ns})
        pipe.expire(scope, ttl)
        self._call(pipe.execute)
        self._headers[meta.key] = header
        self._refused.discard(meta.key)

    def load_blob(self, entry: Entry, index: int) -> bytes:
        """Output `index`'s bytes with its signed header, in one round trip, both verified."""
        key = entry.key
        known = self._headers.get(key)
        if known is None:
            known = self._header(key, self._call(self._redis.get, self._prefix + "e:" + key))
            if known is None:
                raise CorruptEntry(f"entry {key} is not in the shared cache")
        raw, blob = self._call(
            self._client(entry.sizes[index]).mget,
            [self._prefix + "e:" + key, self._prefix + "v:" + known.sha256[index]],
        )
        self._headers.pop(key, None)
        header = self._header(key, raw)
        if header is None or header.entry != entry:
            raise CorruptEntry(f"entry {key} is gone from the shared cache or was changed")
        if blob is None:
            raise CorruptEntry(f"output {index} of entry {key} is missing from the shared cache")
        if hashlib.sha256(blob).hexdigest() != header.sha256[index]:
            self._refuse(f"output {index} of entry {key} fails its SHA-256")
            raise CorruptEntry(f"output {index} of entry {key} fails its SHA-256 (tampered?)")
        return blob

    def load_value(self, entry: Entry, index: int) -> Any:
        blob = self.load_blob(entry, index)
        try:
            return pickle.loads(blob)
        except Exception as exc:
            raise CorruptEntry(f"output {index} of entry {entry.key} cannot be unpickled") from exc

    def delete_entry(self, key: str) -> None:
        header = self._headers.pop(key, None) or self._header(
            key, self._call(self._redis.get, self._prefix + "e:" + key)
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._prefix + "e:" + key)
        if header is not None:
            pipe.zrem(self._scope(header.entry.pipeline, header.entry.step), key)
        self._call(pipe.execute)
        self._headers.pop(key, None)

    def source(self, fn_hash: str) -> str | None:
        raw = self._call(self._redis.get, self._prefix + "s:" + fn_hash)
        payload = self._verified(raw, f"the source {fn_hash}") if raw is not None else None
        return payload.decode() if payload is not None else None

    # -- clearing and stats ----------------------------------------------------------------

    def clear_step(self, pipeline: str, step: str) -> int:
        """Delete one step's shared entries (SCAN-free: its index names them); returns how many."""
        scope = self._scope(pipeline, step)
        keys = [k.decode() for k in self._call(self._redis.zrange, scope, 0, -1)]
        if keys:
            self._call(self._redis.unlink, *[self._prefix + "e:" + k for k in keys], scope)
        for key in keys:
            self._headers.pop(key, None)
        return len(keys)

    def clear(self) -> int:
        """Delete every key of this project, by SCAN (never KEYS or FLUSHDB); returns how many."""
        removed = 0
        for batch in _chunks(self._scan("*"), 500):
            removed += self._call(self._redis.unlink, *batch)
        self._headers.clear()
        return removed

    def _scan(self, pattern: str) -> list[bytes]:
        return list(self._call(lambda: list(self._redis.scan_iter(self._prefix + pattern, 1000))))

    def stats(self) -> dict[str, Any]:
        """Entries and bytes in Redis for this project, and this process's hits and refusals."""
        row: dict[str, Any] = {"url": self.url, "project": self.project, **self.counts}
        try:
            big = self._scan("big:*")
            row["not_shared"] = sorted(k.decode().rsplit(":", 1)[-1] for k in big)
            row["entries"] = len(self._scan("e:*"))
            values = self._scan("v:*")
            pipe = self._redis.pipeline(transaction=False)
            for name in values:
                pipe.strlen(name)
            row["bytes"] = sum(self._call(pipe.execute)) if values else 0
            row["online"] = True
        except SharedTierDown:
            row.update(entries=None, bytes=None, online=False, not_shared=list(self.not_shared))
        return row

    def _scope(self, pipeline: str, step: str) -> str:
        return self._prefix + "n:" + json.dumps([pipeline, step], separators=(",", ":"))


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def _chunks(items: list[bytes], size: int) -> Iterable[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
