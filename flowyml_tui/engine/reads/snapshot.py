"""Fix what a step read as digests once it has run, and notice what moved while it ran.

Each path was stat'ed just before the step first read it (`recorder`). Here it is opened
again, its signature compared with that one, and its bytes (or a folder's listing) digested.
A path whose signature moved was changed while the step ran: the digest would describe bytes
the step may not have seen, so the result must not be cached for the new content.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable

import msgspec
import xxhash

from .model import Read
from .recorder import FILE, FOLDER, Recording, Signature, signature

GLOB = "glob"
TEXT_LIMIT = 256 * 1024
"""Text files up to this size keep their previous text (compressed) for the Diff pane."""
TEXTS_KEPT = 8
"""At most this many texts per step: a step reading a thousand files gets diffs for the
first few, sizes and digests for the rest (each kept text is a compression and a write)."""
_CHUNK = 1 << 20


class ReadSnapshot(msgspec.Struct, frozen=True, gc=False):
    """What travels back from wherever the step ran: its reads, the texts kept for diffs,
    and the paths that changed while it ran."""

    reads: tuple[Read, ...] = ()
    texts: dict[str, bytes] = {}
    """digest -> zlib-compressed text of a small text file (for a later diff)."""
    moved: tuple[str, ...] = ()


def file_digest(path: str, keep_text: bool = False) -> tuple[Signature, str, bytes | None] | None:
    """(signature, xxh3-128 of the bytes, compressed text if small UTF-8 text) of one file,
    read through one descriptor so the signature describes the bytes digested; None if
    nothing is there."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        if st.st_size <= _CHUNK:
            data = os.read(fd, st.st_size + 1)
            text = _packed_text(data) if keep_text else None
            return sig, xxhash.xxh3_128_hexdigest(data), text
        hasher = xxhash.xxh3_128()
        while chunk := os.read(fd, _CHUNK):
            hasher.update(chunk)
        return sig, hasher.hexdigest(), None
    except IsADirectoryError:
        return None
    finally:
        os.close(fd)


def folder_digest(path: str) -> tuple[Signature, str, list[str]] | None:
    """(signature, digest of the sorted names and entry types, the names) of one folder."""
    before = signature(path)
    if before is None:
        return None
    try:
        names = sorted((entry.name + ("/" if entry.is_dir() else "")) for entry in os.scandir(path))
    except OSError:
        return None
    return before, xxhash.xxh3_128_hexdigest("\0".join(names).encode()), names


def glob_digest(pattern: str) -> tuple[str, list[str]]:
    """(digest of the sorted matches, the matches) of a declared pattern."""
    import glob  # only for steps that declare `reads=`

    matches = sorted(glob.glob(pattern, recursive=True))
    return xxhash.xxh3_128_hexdigest("\0".join(matches).encode()), matches


def _packed_text(data: bytes) -> bytes | None:
    if len(data) > TEXT_LIMIT or b"\0" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return zlib.compress(data, 1)


def unpack_text(packed: bytes) -> str:
    return zlib.decompress(packed).decode("utf-8")


def snapshot(
    recorded: Recording, declared: Iterable[str] = (), root: str | None = None
) -> ReadSnapshot:
    """Digest what the step read (and what its `reads=` patterns match now); paths under
    `root` are kept relative to it."""
    reads: list[Read] = []
    texts = _Texts()
    moved: list[str] = []
    files = _Shown(root)
    for path, (kind, before) in recorded.reads.items():
        if path in recorded.written and kind == FILE and before is None:
            continue  # it did not exist until the step made it
        # A file the step wrote after reading it changed by the step's own hand: it is kept
        # as it is now (what a later run must find to reuse the result), not as moved.
        wrote = path in recorded.written
        read = _read_of(path, files(path), kind, before, texts, moved, check=not wrote)
        if read is not None:
            reads.append(read)
    seen = set(recorded.reads)
    patterns = _Shown(root or os.getcwd())
    for pattern in declared:
        digest, matches = glob_digest(pattern)
        shown = patterns(pattern)
        reads.append(Read(path=shown, kind=GLOB, digest=digest, size=len(matches), declared=True))
        for match in matches:
            if match in seen or os.path.isdir(match):
                continue
            seen.add(match)
            read = _read_of(match, files(match), FILE, None, texts, moved, declared=True)
            if read is not None:
                reads.append(read)
    return ReadSnapshot(tuple(reads), texts.packed, tuple(moved))


class _Texts:
    """The texts kept of one step's files, and how many files were tried (`TEXTS_KEPT`)."""

    __slots__ = ("packed", "tried")

    def __init__(self) -> None:
        self.packed: dict[str, bytes] = {}
        self.tried = 0


class _Shown:
    """A path as kept: relative to `root` when under it, else as it is (absolute)."""

    __slots__ = ("prefix",)

    def __init__(self, root: str | None) -> None:
        self.prefix = os.path.join(root, "") if root else None

    def __call__(self, path: str) -> str:
        prefix = self.prefix
        return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def _read_of(
    path: str,
    shown: str,
    kind: str,
    before: Signature | None,
    texts: _Texts,
    moved: list[str],
    *,
    check: bool = False,
    declared: bool = False,
) -> Read | None:
    """`check`: compare with the signature before the step's first read (a recorded read
    the step did not write itself)."""
    if kind == FOLDER:
        found = folder_digest(path)
        if found is None:
            return Read(path=shown, kind=kind, digest="")
        sig, digest, names = found
        if check and before is not None and sig != before:
            moved.append(shown)
        return Read(
            path=shown, kind=kind, digest=digest, size=len(names),
            mtime_ns=sig[1], ctime_ns=sig[2], inode=sig[3],
        )  # fmt: skip
    keep = kind == FILE and texts.tried < TEXTS_KEPT
    found_file = file_digest(path, keep_text=keep)
    texts.tried += keep
    if found_file is None:
        if check and before is not None:
            moved.append(shown)  # there when the step read it, gone now
        return Read(path=shown, kind=kind, digest="", declared=declared)
    sig, digest, text = found_file
    if check and sig != before:
        moved.append(shown)
    if text is not None:
        texts.packed[digest] = text
    return Read(
        path=shown, kind=kind, digest=digest, size=sig[0],
        mtime_ns=sig[1], ctime_ns=sig[2], inode=sig[3], declared=declared,
    )  # fmt: skip


def text_source(packed: bytes) -> str:
    """A compressed text as the store's source text (sources are strings)."""
    import base64

    return base64.b85encode(packed).decode("ascii")


def text_from_source(source: str | None) -> bytes | None:
    if source is None:
        return None
    import base64

    try:
        return base64.b85decode(source)
    except ValueError:
        return None


TEXT_SOURCE_PREFIX = "read:"
"""Sources named `read:<digest>` hold a read file's compressed text."""
