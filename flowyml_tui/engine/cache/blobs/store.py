"""`BlobStore`: values as content-addressed files on any fsspec filesystem.

A blob's name is the SHA-256 of its bytes (``<root>/blobs/<2 hex>/<64 hex>``), so one value
computed by two steps, pipelines or teammates is stored once, and a reader can prove the bytes
it got are the ones named before anything is unpickled: others can write the bucket.

Nothing half-written is ever read. Object stores (S3, GCS, Azure) make an object visible only
when its upload completes (a killed multipart upload leaves no object), so blobs go straight
to their name; on a filesystem (a shared folder, NFS) a blob is written under
``<root>/blobs/tmp/`` and renamed into place once complete. Transfers stream in parts of
`PART` bytes, `CONCURRENCY` at a time where the backend can (s3fs), so memory stays bounded
by their product, whatever the value's size. Downloads stream in one request, read in small
chunks: on the S3 server the tests use (moto), which copies the whole object for each ranged
read, parallel ranged reads measured 4-6x slower than one stream (`bench_blobs.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from ..protocols import CorruptEntry, SharedTierDown
from .breaker import Breaker

PART = 8 * 2**20
"""Bytes per part of a transfer (S3 wants at least 5 MiB per multipart part)."""
CONCURRENCY = 3
"""Parts in flight at once: `PART * CONCURRENCY` = 24 MiB of buffers. With 4 (32 MiB), a
1 GB upload peaked at 67 MB above the process's baseline (botocore holds a copy of each part
while it sends it), over the 64 MB target (`bench_blobs.py`)."""
HASH_CHUNK = 2**20
OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")
"""Protocols whose uploads become visible only when complete: no temp name needed."""
PARALLEL_PARTS = ("s3", "s3a")
"""Protocols whose `put_file`/`get_file` take `chunksize` and `max_concurrency` (s3fs)."""


class BlobInfo(msgspec.Struct, frozen=True):
    """One stored blob, as `listing()` finds it."""

    digest: str
    size: int
    modified: float
    """Unix time of its last write: `gc` leaves younger blobs alone (a run may be using them)."""


class BlobCorrupt(CorruptEntry):
    """A blob that is missing, of the wrong size, or whose bytes fail their SHA-256."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, read in bounded chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class BlobStore:
    """Blobs under one fsspec URL; every call to the backend goes through `breaker`."""

    def __init__(
        self, url: str, breaker: Breaker, *, scratch: Path | None = None, **options: Any
    ) -> None:
        import fsspec

        self.url, self.breaker = url, breaker
        self.fs, root = fsspec.core.url_to_fs(url, **options)
        self.root = root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.atomic_put = any(p in OBJECT_STORES for p in protocols)
        parallel = any(p in PARALLEL_PARTS for p in protocols)
        self._upload_parts = {"chunksize": PART, "max_concurrency": CONCURRENCY} if parallel else {}
        self._download_parts = {"max_concurrency": 1} if parallel else {}
        self.scratch = scratch
        """Where downloads land before they are verified (default: the system's temp dir)."""
        self.counts = {"uploaded": 0, "uploaded_bytes": 0, "downloaded": 0, "downloaded_bytes": 0}

    def __repr__(self) -> str:
        return f"BlobStore({self.url!r})"

    def path(self, digest: str) -> str:
        return f"{self.root}/blobs/{digest[:2]}/{digest}"

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self.breaker.call(fn, *args, **kwargs)

    # -- writing ---------------------------------------------------------------------------

    def has(self, digest: str) -> bool:
        return bool(self._call(self.fs.exists, self.path(digest)))

    def put_bytes(self, data: bytes, digest: str | None = None) -> str:
        """Store `data` (a no-op if a blob of that digest exists); returns its digest."""
        digest = digest or hashlib.sha256(data).hexdigest()
        if self.has(digest):
            return digest
        target = self.path(digest)
        if self.atomic_put:
            self.breaker.write(self.fs.pipe_file, target, data, **self._upload_parts)
        else:
            temp = self._temp_name()
            self.breaker.write(self._write_then_rename, temp, target, data)
        self.counts["uploaded"] += 1
        self.counts["uploaded_bytes"] += len(data)
        return digest

    def put_file(self, local: str | os.PathLike[str]) -> str:
        """Store a file's bytes, streamed (hashed first, then uploaded); returns its digest."""
        digest = sha256_file(local)
        if self.has(digest):
            return digest
        target = self.path(digest)
        if self.atomic_put:
            self.breaker.write(self.fs.put_file, os.fspath(local), target, **self._upload_parts)
        else:
            temp = self._temp_name()
            self.breaker.write(self._put_then_rename, os.fspath(local), temp, target)
        self.counts["uploaded"] += 1
        self.counts["uploaded_bytes"] += os.path.getsize(local)
        return digest

    def _temp_name(self) -> str:
        return f"{self.root}/blobs/tmp/{uuid.uuid4().hex}"

    def _write_then_rename(self, temp: str, target: str, data: bytes) -> None:
        self.fs.makedirs(self.fs._parent(temp), exist_ok=True)
        try:
            with self.fs.open(temp, "wb") as f:
                view = memoryview(data)
                for start in range(0, len(view), PART):
                    f.write(view[start : start + PART])
            self._rename(temp, target)
        finally:
            with contextlib.suppress(Exception):
                self.fs.rm_file(temp)

    def _put_then_rename(self, local: str, temp: str, target: str) -> None:
        self.fs.makedirs(self.fs._parent(temp), exist_ok=True)
        try:
            self.fs.put_file(local, temp)
            self._rename(temp, target)
        finally:
            with contextlib.suppress(Exception):
                self.fs.rm_file(temp)

    def _rename(self, temp: str, target: str) -> None:
        self.fs.makedirs(self.fs._parent(target), exist_ok=True)
        self.fs.mv(temp, target)

    # -- reading ---------------------------------------------------------------------------

    def get_file(self, digest: str, size: int, dest: str | os.PathLike[str]) -> None:
        """Download a blob to `dest`, which appears only once its bytes are proven to be
        `digest`'s; else `BlobCorrupt` and no `dest`."""
        dest = Path(dest)
        partial = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.partial")
        try:
            self._download(digest, partial)
            self._verify(digest, size, partial)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)

    def get_bytes(self, digest: str, size: int) -> bytes:
        """A blob's bytes, verified against `digest` and `size` before they are returned.

        Downloaded to a scratch file first (parts in parallel, memory bounded), then read
        once: the value's own size is the only memory it costs."""
        if self.scratch is not None:
            self.scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="blob-", suffix=".partial", dir=self.scratch)
        os.close(fd)
        try:
            self._download(digest, Path(name))
            with open(name, "rb") as f:
                data = f.read()
        finally:
            Path(name).unlink(missing_ok=True)
        self._check(digest, size, len(data), hashlib.sha256(data).hexdigest())
        return data

    def _download(self, digest: str, local: Path) -> None:
        try:
            source, target = self.path(digest), os.fspath(local)
            self._call(self.fs.get_file, source, target, **self._download_parts)
        except FileNotFoundError:
            raise BlobCorrupt(f"blob {digest} is missing from {self.url}") from None
        self.counts["downloaded"] += 1
        self.counts["downloaded_bytes"] += local.stat().st_size

    def _verify(self, digest: str, size: int, local: Path) -> None:
        self._check(digest, size, local.stat().st_size, sha256_file(local))

    def _check(self, digest: str, size: int, got_size: int, got: str) -> None:
        if got_size != size:
            raise BlobCorrupt(f"blob {digest} in {self.url} has {got_size} bytes, not {size}")
        if got != digest:
            raise BlobCorrupt(f"blob {digest} in {self.url} fails its SHA-256 (tampered?)")

    # -- housekeeping ----------------------------------------------------------------------

    def listing(self) -> list[BlobInfo]:
        """Every blob (and leftover temp file, under the digest "tmp/<name>") in the store."""
        try:
            found = self._call(self.fs.find, f"{self.root}/blobs", detail=True)
        except FileNotFoundError:
            return []
        prefix = f"{self.root}/blobs/"
        infos = []
        for name, info in found.items():
            relative = name[len(prefix) :] if name.startswith(prefix) else name
            head, _, digest = relative.rpartition("/")
            if head == "tmp":
                digest = relative
            elif len(digest) != 64 or head != digest[:2]:
                continue  # not ours
            infos.append(BlobInfo(digest, int(info.get("size") or 0), _modified(info)))
        return infos

    def sweep_scratch(self, before: float) -> int:
        """Remove downloads a killed process left in the scratch dir, last written before
        `before` (Unix time); returns how many."""
        if self.scratch is None or not self.scratch.is_dir():
            return 0
        removed = 0
        for leftover in self.scratch.glob("blob-*.partial"):
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < before:
                    leftover.unlink()
                    removed += 1
        return removed

    def summary(self) -> dict[str, Any]:
        """Blobs and bytes stored, for `cache stats` (`online` False when unreachable)."""

        try:
            blobs = [b for b in self.listing() if not b.digest.startswith("tmp/")]
        except SharedTierDown:
            return {"url": self.url, "online": False, "blobs": None, "bytes": None}
        return {
            "url": self.url,
            "online": True,
            "blobs": len(blobs),
            "bytes": sum(b.size for b in blobs),
            **self.counts,
        }

    def delete(self, digests: Iterable[str]) -> None:
        names = [
            f"{self.root}/blobs/{d}" if d.startswith("tmp/") else self.path(d) for d in digests
        ]
        if names:
            self._call(self.fs.rm, names)


def _modified(info: dict[str, Any]) -> float:
    """A listing's modification time as Unix time: local filesystems say `mtime` (float),
    s3fs `LastModified` (datetime)."""
    for field in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(field)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0
