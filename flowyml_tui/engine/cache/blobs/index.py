"""`BucketIndex`: signed entries in the object store itself, for a team that shares only a
bucket or a folder.

Layout under ``<root>/index/<project, %-quoted>/``:

- ``e/<key>``                          the signed record: the entry, the SHA-256 of each value,
                                       who wrote it, and its functions' sources (for diffs)
- ``n/<scope>/<created_ns>.<key>``     an empty marker per entry of one (pipeline, step), so
                                       one listing names the newest entries of a whole DAG

Records are signed with the team secret (`signed.Signer`) and bound to their path: a record
copied under another key, or one a stranger wrote, is refused. Markers are not signed; a
marker names a key whose record must still verify and belong to that very step.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import msgspec

from ..entry import Entry
from ..protocols import PREFETCH_VERSIONS
from ..signed import ENTRY, HEADER_SIZE, Refused, Signer
from .breaker import Breaker


class IndexRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What is signed: the entry, the SHA-256 of each value, the writer, and sources."""

    entry: Entry
    sha256: list[str]
    host: str
    user: str
    sources: dict[str, str] = {}


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(IndexRecord)


def make_record(entry: Entry, digests: list[str], sources: dict[str, str]) -> IndexRecord:
    return IndexRecord(
        entry=entry, sha256=digests, host=socket.gethostname(), user=_user(), sources=sources
    )


class BucketIndex:
    """Signed entry records of one project, as files beside the blobs."""

    def __init__(self, fs: Any, root: str, project: str, signer: Signer, breaker: Breaker):
        self.fs, self.signer, self.breaker = fs, signer, breaker
        self.root = root
        self.base = f"index/{quote(project, safe='')}"
        """Relative to `root`: the name records are signed under starts here."""

    def _path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def _record_name(self, key: str) -> str:
        return f"{self.base}/e/{quote(key, safe='')}"

    def _scope(self, pipeline: str, step: str) -> str:
        scope = json.dumps([pipeline, step], separators=(",", ":")).encode()
        return f"{self.base}/n/{hashlib.sha256(scope).hexdigest()[:32]}"

    def put(self, record: IndexRecord) -> None:
        """The record, then its marker: a marker never names a record not yet written."""
        entry = record.entry
        name = self._record_name(entry.key)
        signed = self.signer.sign(name, ENTRY, _ENCODER.encode(record))
        self.breaker.write(self._write, self._path(name), signed)
        marker = f"{self._scope(entry.pipeline, entry.step)}/{entry.created_ns:020d}.{entry.key}"
        self.breaker.write(self._write, self._path(marker), b"")

    def _write(self, path: str, data: bytes) -> None:
        """A small file, whole or not at all (a record is one PUT on object stores; on a
        filesystem, a temp name renamed into place)."""
        from .store import OBJECT_STORES

        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        if any(p in OBJECT_STORES for p in protocols):
            self.fs.pipe_file(path, data)
            return
        parent = self.fs._parent(path)
        self.fs.makedirs(parent, exist_ok=True)
        temp = f"{parent}/.{path.rsplit('/', 1)[-1]}.tmp"
        self.fs.pipe_file(temp, data)
        self.fs.mv(temp, path)

    def get(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Raw records of these keys, fetched concurrently where the backend can (one batch)."""
        paths = {self._path(self._record_name(key)): key for key in keys}
        if not paths:
            return {}
        found = self.breaker.call(self._read_all, list(paths))
        return {paths[path]: raw for path, raw in zip(paths, found, strict=True) if raw is not None}

    def _read_all(self, paths: list[str]) -> list[bytes | None]:
        """Whole files, one GET each, concurrent on async backends (`cat_ranges` skips the
        existence check `cat` makes per path); None for a missing one."""
        from .store import PARALLEL_PARTS

        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        # s3fs asks each object's size first (a HEAD) unless told to read it in one piece
        one_piece = {"max_concurrency": 1} if any(p in PARALLEL_PARTS for p in protocols) else {}
        found = self.fs.cat_ranges(paths, None, None, on_error="return", **one_piece)
        for item in found:
            if isinstance(item, Exception) and not isinstance(item, FileNotFoundError):
                raise item
        return [item if isinstance(item, bytes) else None for item in found]

    def verify(self, key: str, raw: bytes) -> IndexRecord:
        """The record read for `key`, proven; else `Refused` (or `msgspec.DecodeError`)."""
        record = _DECODER.decode(self.signer.verify(self._record_name(key), ENTRY, raw))
        if record.entry.key != key or len(record.sha256) != len(record.entry.sizes):
            raise Refused("does not match its key")
        return record

    def newest(
        self, pipeline: str, steps: Iterable[str], versions: int | None = PREFETCH_VERSIONS
    ) -> list[str]:
        """The newest keys of these steps (`versions` each, None: all), oldest first: one
        listing of the project's markers."""
        wanted = {self._path(self._scope(pipeline, step)): step for step in steps}
        markers = self._markers()
        by_scope: dict[str, list[str]] = {}
        for path in markers:
            scope, _, name = path.rpartition("/")
            if scope in wanted:
                by_scope.setdefault(scope, []).append(name)
        keys = []
        for names in by_scope.values():
            keys += [name.partition(".")[2] for name in sorted(names)[-(versions or len(names)) :]]
        return keys

    def _markers(self) -> list[str]:
        try:
            return list(self.breaker.call(self.fs.find, self._path(f"{self.base}/n")))
        except FileNotFoundError:
            return []

    def keys(self) -> list[str]:
        """Every entry key of this project that has a record."""
        try:
            found = self.breaker.call(self.fs.find, self._path(f"{self.base}/e"))
        except FileNotFoundError:
            return []
        return [path.rpartition("/")[2] for path in found if not path.endswith(".tmp")]

    def delete(self, entry: Entry) -> None:
        marker = f"{self._scope(entry.pipeline, entry.step)}/{entry.created_ns:020d}.{entry.key}"
        paths = [self._path(self._record_name(entry.key)), self._path(marker)]
        self.breaker.call(self._remove, paths)

    def _remove(self, paths: list[str]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)

    def clear(self) -> int:
        """Delete this project's records and markers; returns how many records went."""
        count = len(self.keys())
        try:
            self.breaker.call(self.fs.rm, self._path(self.base), recursive=True)
        except FileNotFoundError:
            return 0
        return count


def digests_in_bucket(fs: Any, root: str, breaker: Breaker) -> set[str]:
    """Every SHA-256 any record in the bucket names, every project's: what `gc` keeps.
    Records are not verified here: keeping a blob a stranger's record names is safe."""
    try:
        found = breaker.call(fs.find, f"{root}/index")
    except FileNotFoundError:
        return set()
    paths = [p for p in found if "/e/" in p and not p.endswith(".tmp")]
    raws = breaker.call(fs.cat, paths, on_error="omit") if paths else {}
    digests: set[str] = set()
    for raw in raws.values():
        digests.update(_digests_named(raw))
    return digests


def _digests_named(raw: bytes) -> list[str]:
    """The SHA-256s a record names, read without its signature (for `gc` only)."""
    try:
        return list(_DECODER.decode(raw[HEADER_SIZE:]).sha256)
    except (msgspec.DecodeError, ValueError):
        return []


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
