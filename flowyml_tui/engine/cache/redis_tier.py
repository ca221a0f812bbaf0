"""RedisTier: the team's shared `EntryStore`, signed because others can write to it.

Keys (no Python `hash()`, so every process and machine agrees), each variable part
length-prefixed (`signed.parts`), under ``N = flowyml:steps:v<KEY_FORMAT>.<SHARED_FORMAT>:
<len>:<project>``:

- ``N e:<len>:<key>``        signed header: the entry, the SHA-256 of each value, who wrote it
- ``N v:<len>:<sha256>``     a value's pickle bytes, content-addressed (its header names them)
- ``N s:<len>:<fn hash>``    signed source text of one function
- ``N big:<len>:<key>``      signed note: this entry stayed local (a value over the size cap)
- ``N n:<len>:<json [pipeline, step]>`` sorted set of entry keys by time

Every key carries a TTL. Every record but the content-addressed values is signed by `Signer`
(one format for steps and calls), bound to its key and kind: a record that does not verify, a
record moved from another key, or a value whose SHA-256 differs from the one its header names,
is refused: a miss, counted, with a warning, and never unpickled. Redis down or slow: one
bounded timeout, then a circuit breaker (`RedisLink`) keeps the run local for `retry_after`
seconds, told once to the run as a notice.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import socket
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from . import notices as kinds
from .entry import KEY_FORMAT, Entry
from .notices import Notices
from .protocols import PREFETCH_VERSIONS, CorruptEntry, SharedTierDown
from .redis_link import RETRY_AFTER, TIMEOUT, LinkDown, RedisLink
from .signed import (
    ENTRY,
    HEADER_SIZE,
    NOTE,
    SOURCE,
    Refused,
    Signer,
    glob_escape,
    parts,
    single_part,
)
from .values import unpickle_verified

if TYPE_CHECKING:
    from .blobs.values import BlobValues

log = logging.getLogger(__name__)

DEFAULT_TTL = 30 * 24 * 3600
DEFAULT_MAX_VALUE = 64 * 2**20
SHARED_FORMAT = 3
"""Bumped when the shared records' layout changes: older records sit under other names."""


class Header(msgspec.Struct, frozen=True, kw_only=True):
    """What is signed: the entry, the SHA-256 of each value, and who wrote it."""

    entry: Entry
    sha256: list[str]
    host: str
    user: str


_HEADER_ENCODER = msgspec.json.Encoder()
_HEADER_DECODER = msgspec.json.Decoder(Header)


class RedisTier:
    """An `EntryStore` over Redis (redis-py), namespaced by project and key format: it passes
    the store contract suite alone, as the tier `TieredStore` puts behind the local store."""

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
        blobs: BlobValues | None = None,
        notices: Notices | None = None,
    ) -> None:
        self.url, self.project, self.ttl, self.max_value = url, project, ttl, max_value
        self.blobs = blobs
        self.blob_values = blobs
        """Where values at or above its threshold go (a bucket), their digests still named by
        the signed header here; None: every value is in Redis, up to `max_value`."""
        self.path = Path(url)
        self.unreadable: set[str] = set()
        self.signer = Signer(secret)
        self._prefix = namespace(project)
        self._link = RedisLink(url, timeout=timeout, retry_after=retry_after)
        self._redis = self._link.client
        self.notices = notices if notices is not None else Notices()
        """For the run's event stream: offline, refused, not shared (see `Notices`)."""
        self.layered = True
        """Every entry it serves comes from the team's tier, not this process's own."""
        self.generation: int | None = None
        """Redis drops entries without telling (TTLs): nothing holds across runs."""
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
        return self._link.online

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One round trip; a failure (or the open breaker) raises SharedTierDown and leaves the
        run one notice: the run tells it once, in one line, through its event stream."""
        if self._link.online:
            self.counts["round_trips"] += 1
        try:
            return self._link.call(fn, *args, **kwargs)
        except LinkDown as down:
            self.notices.add(
                kinds.OFFLINE,
                f"the shared cache at {self.url} is unreachable ({down.reason}); this run goes "
                f"on with the local cache only and retries the shared one in "
                f"{self._link.retry_after:g}s",
            )
            raise SharedTierDown(self.url) from down

    def _client(self, nbytes: int) -> Any:
        return self._link.bulk(nbytes)

    # -- signing ---------------------------------------------------------------------------

    def _name(self, kind: str, part: str) -> str:
        """The Redis key of one record: the namespace, its kind, then `part` length-prefixed."""
        return f"{self._prefix}{kind}:{parts(part)}"

    def _verified(self, name: str, kind: str, raw: bytes, what: str) -> bytes | None:
        """The payload of a signed record read from `name`, or None (refused, with a notice)."""
        try:
            return bytes(self.signer.verify(name, kind, raw))
        except Refused as why:
            self._refuse(f"{what} {why}" if "SHA" in str(why) else f"{what} is {why}")
            return None

    def _refuse(self, why: str) -> None:
        self.counts["refused"] += 1
        message = f"refused a shared cache item: {why}; treated as a miss"
        self.notices.add(kinds.REFUSED, message)
        log.warning(message)
        warnings.warn(message, stacklevel=4)

    def _header(self, key: str, raw: bytes | None) -> Header | None:
        if raw is None:
            return None
        payload = self._verified(self._name("e", key), ENTRY, raw, f"the entry {key}")
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
            raw = self._call(self._redis.get, self._name("e", key))
            header = self._header(key, raw)
        if header is not None:
            self.counts["hits"] += 1
        return header.entry if header else None

    def get_entries(self, keys: Iterable[str]) -> dict[str, Entry]:
        """Many entries in one round trip (MGET): what a cached run's metadata costs."""
        keys = list(keys)
        wanted = [k for k in keys if k not in self._headers and k not in self._refused]
        if wanted:
            raws = self._call(self._redis.mget, [self._name("e", k) for k in wanted])
            for key, raw in zip(wanted, raws, strict=True):
                self._header(key, raw)
        return {k: self._headers[k].entry for k in keys if k in self._headers}

    def prefetch(self, pipeline: str, steps: Iterable[str]) -> int:
        return len(self.fetch_newest(pipeline, steps))

    def fetch_newest(self, pipeline: str, steps: Iterable[str]) -> dict[str, Entry]:
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

    def tier_of(self, key: str | None) -> str | None:
        return "shared" if key is not None and key in self._headers else None

    def writer_of(self, key: str | None) -> str | None:
        """`user@host` who wrote a shared entry this process has read, for the Why pane."""
        header = self._headers.get(key) if key is not None else None
        return f"{header.user}@{header.host}" if header else None

    def _in_bucket(self, size: int) -> bool:
        return self.blobs is not None and self.blobs.takes(size)

    def takes(self, sizes: Iterable[int]) -> bool:
        """Whether an entry with values of these sizes can be shared (none over the cap that
        the blob store does not take)."""
        return all(size <= self.max_value or self._in_bucket(size) for size in sizes)

    def put_entry(self, meta: Entry, blobs: list[bytes], sources: dict[str, str]) -> None:
        """Values, sources, header and index in one pipelined round trip; big values stay local
        (or, with a blob store, go there first)."""
        if not self.takes(map(len, blobs)):
            self.counts["not_shared"] += 1
            self.not_shared.append(meta.key)
            self.notices.add(
                kinds.NOT_SHARED,
                f"step {meta.step}: a value is over the shared cache's size cap "
                f"({self.max_value} bytes; set FLOWYML_TUI_SHARED_MAX_VALUE to change it); "
                "it stays in the local cache only",
            )
            note = {"pipeline": meta.pipeline, "step": meta.step, "bytes": sum(map(len, blobs))}
            name = self._name("big", meta.key)
            record = self.signer.sign(name, NOTE, json.dumps(note).encode())
            self._call(self._redis.set, name, record, ex=self.ttl)
            return
        self.put_entries([(meta, blobs, sources)])

    def put_entries(self, items: list[tuple[Entry, list[bytes], dict[str, str]]]) -> None:
        """Many entries (values, sources, header, index) in one pipelined round trip, all or
        nothing. Values over the size cap are the caller's to leave out (`put_entry` does)."""
        nbytes = sum(len(blob) for _, blobs, _ in items for blob in blobs)
        pipe = self._client(nbytes).pipeline(transaction=True)
        headers = [self._queue_entry(pipe, *item) for item in items]
        self._call(pipe.execute)
        for header in headers:
            self._headers[header.entry.key] = header
            self._refused.discard(header.entry.key)

    def _queue_entry(
        self, pipe: Any, meta: Entry, blobs: list[bytes], sources: dict[str, str]
    ) -> Header:
        digests = [hashlib.sha256(b).hexdigest() for b in blobs]
        header = Header(entry=meta, sha256=digests, host=socket.gethostname(), user=_user())
        ttl, sign, name = self.ttl, self.signer.sign, self._name
        for digest, blob in zip(digests, blobs, strict=True):
            if self._in_bucket(len(blob)):  # uploaded before the header is sent
                self.blobs.put(blob, digest)  # type: ignore[union-attr]
            else:
                pipe.set(name("v", digest), blob, ex=ttl)
        for fn_hash, text in sources.items():
            pipe.set(name("s", fn_hash), sign(name("s", fn_hash), SOURCE, text.encode()), ex=ttl)
        entry_name = name("e", meta.key)
        pipe.set(entry_name, sign(entry_name, ENTRY, _HEADER_ENCODER.encode(header)), ex=ttl)
        scope = self._scope(meta.pipeline, meta.step)
        pipe.zadd(scope, {meta.key: meta.created_ns})
        pipe.expire(scope, ttl)
        return header

    def lacking(self, keys: list[str]) -> list[str]:
        """The entries among `keys` the shared tier does not hold. One EXISTS of them all when
        it holds every one (the usual case: ~6 ms for 1000 keys, where 1000 pipelined EXISTS
        cost ~27 ms in redis-py); one more round trip, pipelined, to name the missing ones."""
        names = [self._name("e", key) for key in keys]
        if not names or self._call(self._redis.exists, *names) == len(names):
            return []
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(name)
        found = self._call(pipe.execute)
        return [key for key, present in zip(keys, found, strict=True) if not present]

    def load_blob(self, entry: Entry, index: int) -> bytes:
        """Output `index`'s bytes with its signed header, in one round trip, both verified."""
        key = entry.key
        known = self._headers.get(key)
        if known is None:
            known = self._header(key, self._call(self._redis.get, self._name("e", key)))
            if known is None:
                raise CorruptEntry(f"entry {key} is not in the shared cache")
        if self._in_bucket(entry.sizes[index]):
            return self._load_from_bucket(entry, index)
        raw, blob = self._call(
            self._client(entry.sizes[index]).mget,
            [self._name("e", key), self._name("v", known.sha256[index])],
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

    def _load_from_bucket(self, entry: Entry, index: int) -> bytes:
        """A big value: its header re-read and verified here, its bytes from the blob store,
        proven against the SHA-256 the header names before they are returned."""
        from .blobs.store import BlobCorrupt

        key = entry.key
        self._headers.pop(key, None)
        header = self._header(key, self._call(self._redis.get, self._name("e", key)))
        if header is None or header.entry != entry:
            raise CorruptEntry(f"entry {key} is gone from the shared cache or was changed")
        try:
            return self.blobs.get(header.sha256[index], entry.sizes[index])  # type: ignore[union-attr]
        except BlobCorrupt as problem:
            self._refuse(f"output {index} of entry {key}: {problem}")
            raise

    def load_value(self, entry: Entry, index: int) -> Any:
        return unpickle_verified(self.load_blob(entry, index), entry.key, index)

    def delete_entry(self, key: str) -> None:
        header = self._headers.pop(key, None) or self._header(
            key, self._call(self._redis.get, self._name("e", key))
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._name("e", key))
        if header is not None:
            pipe.zrem(self._scope(header.entry.pipeline, header.entry.step), key)
        self._call(pipe.execute)
        self._headers.pop(key, None)

    def source(self, fn_hash: str) -> str | None:
        name = self._name("s", fn_hash)
        raw = self._call(self._redis.get, name)
        if raw is None:
            return None
        payload = self._verified(name, SOURCE, raw, f"the source {fn_hash}")
        return payload.decode() if payload is not None else None

    # -- clearing and stats ----------------------------------------------------------------

    def clear_step(self, pipeline: str, step: str) -> int:
        """Delete one step's shared entries (SCAN-free: its index names them); returns how many."""
        scope = self._scope(pipeline, step)
        keys = [k.decode() for k in self._call(self._redis.zrange, scope, 0, -1)]
        if keys:
            self._call(self._redis.unlink, *[self._name("e", k) for k in keys], scope)
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
        match = glob_escape(self._prefix) + pattern
        return list(self._call(lambda: list(self._redis.scan_iter(match, 1000))))

    def stats(self) -> dict[str, Any]:
        """Entries and bytes in Redis for this project, and this process's hits and refusals."""
        row: dict[str, Any] = {"url": self.url, "project": self.project, **self.counts}
        try:
            big = self._scan("big:*")
            cut = len(self._prefix + "big:")
            found = (single_part(k.decode(errors="replace")[cut:]) for k in big)
            row["not_shared"] = sorted(key for key in found if key is not None)
            row["entries"] = len(self._scan("e:*"))
            values = self._scan("v:*")
            pipe = self._redis.pipeline(transaction=False)
            for name in values:
                pipe.strlen(name)
            row["bytes"] = sum(self._call(pipe.execute)) if values else 0
            row["online"] = True
        except SharedTierDown:
            row.update(entries=None, bytes=None, online=False, not_shared=list(self.not_shared))
        if self.blobs is not None:
            row["blob_store"] = self.blobs.store.summary()
        return row

    def referenced_digests(self) -> set[str]:
        """The SHA-256 every entry header in this Redis names, every project's (for the blob
        store's `gc`). Read without verifying: keeping what a stranger's header names is safe."""
        names = list(self._call(lambda: list(self._redis.scan_iter("flowyml:steps:*e:*", 1000))))
        digests: set[str] = set()
        for batch in _chunks(names, 500):
            for raw in self._call(self._redis.mget, batch):
                try:
                    digests.update(_HEADER_DECODER.decode(raw[HEADER_SIZE:]).sha256)
                except (TypeError, msgspec.DecodeError):
                    continue
        if self.blobs is not None:  # records a bucket-only teammate wrote name blobs too
            from .blobs.index import digests_in_bucket

            store = self.blobs.store
            digests |= digests_in_bucket(store.fs, store.root, store.breaker)
        return digests

    def _scope(self, pipeline: str, step: str) -> str:
        return self._name("n", json.dumps([pipeline, step], separators=(",", ":")))


def namespace(project: str) -> str:
    """Where one project's shared step entries live (its name length-prefixed)."""
    return f"flowyml:steps:v{KEY_FORMAT}.{SHARED_FORMAT}:{parts(project)}"


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def _chunks(items: list[bytes], size: int) -> Iterable[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
