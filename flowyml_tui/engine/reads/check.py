"""Is the world a cached result read still as it was? One `stat` per recorded path; bytes are
hashed again only when a signature moved (a touched file with the same bytes stays a hit).

Paths are stored relative to the pipeline file's folder when under it (`snapshot`), so
teammates' checkouts in different places agree, and resolved against it here.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence

import msgspec

from .model import Read
from .recorder import FOLDER, Signature
from .snapshot import GLOB, TEXT_LIMIT, file_digest, folder_digest, glob_digest, unpack_text

_checked: dict[str, tuple[Signature, str]] = {}
"""Absolute path -> (signature, digest) last found by hashing: a file touched but unchanged
is hashed once per process, not at every decision."""


class ReadChange(msgspec.Struct, frozen=True):
    """Why a cached result no longer matches the world it read."""

    reason: str
    """"file changed: data/sales.csv", "file removed: …", "folder changed: inbox/ (+2 files)"."""
    path: str
    diff: str | None = None


def resolved_path(path: str, root: str | None) -> str:
    return path if os.path.isabs(path) or not root else os.path.join(root, path)


def first_change(
    reads: Sequence[Read],
    root: str | None,
    old_text: Callable[[str], bytes | None] | None = None,
) -> ReadChange | None:
    """The first recorded read that no longer holds, or None when all do. `old_text` finds
    the compressed text a file had (by digest), for the diff of a changed text file. A file
    whose bytes changed is read again for its diff: only then, when the step re-runs anyway.

    The loop is the cost of deciding a cached step that read many files: one `stat` each,
    compared field by field; anything else takes `_changed`, which hashes if it must.
    """
    base = os.path.join(root, "") if root else ""
    stat = os.stat
    for read in reads:
        path = read.path
        if path[:1] != "/":
            path = base + path
        try:
            st = stat(path)
        except OSError:
            st = None
        if (
            st is not None
            and st.st_mtime_ns == read.mtime_ns
            and st.st_ctime_ns == read.ctime_ns
            and st.st_ino == read.inode
            and (st.st_size == read.size or read.kind == FOLDER)
            and read.kind != GLOB
        ):
            continue
        now = None if st is None else (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        change = _changed(read, root, old_text, now)
        if change is not None:
            return change
    return None


def _changed(
    read: Read,
    root: str | None,
    old_text: Callable[[str], bytes | None] | None,
    now: Signature | None,
) -> ReadChange | None:
    """Why `read` no longer holds, or None; `now` is the path's signature `first_change` just
    took (it already found it different from the recorded one, or the read is a glob)."""
    shown = read.path
    if read.kind == GLOB:
        pattern = resolved_path(read.path, root)
        digest, matches = glob_digest(pattern)
        if digest == read.digest:
            return None
        delta = len(matches) - read.size
        what = f"+{delta}" if delta > 0 else str(delta) if delta else "renamed"
        return ReadChange(f"files matching {shown} changed ({what})", shown)
    path = resolved_path(read.path, root)
    if now is None:
        if not read.digest:
            return None  # absent then, absent now
        return ReadChange(f"{_noun(read)} removed: {shown}", shown)
    if read.kind == FOLDER:
        found = folder_digest(path)
        if found is not None and found[1] == read.digest:
            return None
        count = len(found[2]) if found else 0
        delta = count - read.size
        what = f"+{delta} files" if delta > 0 else f"{delta} files" if delta else "files renamed"
        return ReadChange(f"folder changed: {shown.rstrip('/')}/ ({what})", shown)
    memo = _checked.get(path)
    if memo is not None and memo[0] == now:
        digest = memo[1]
    else:
        found_file = file_digest(path)
        if found_file is None:
            return ReadChange(f"{_noun(read)} removed: {shown}", shown)
        digest = found_file[1]
        _checked[path] = (found_file[0], digest)
    if digest == read.digest:
        return None
    verb = "added" if not read.digest else "changed"
    return ReadChange(f"{_noun(read)} {verb}: {shown}", shown, _diff(read, path, shown, old_text))


def _noun(read: Read) -> str:
    return "database" if read.kind == "sqlite" else "file"


def _diff(read: Read, path: str, shown: str, old_text: Callable[[str], bytes | None] | None) -> str:
    """A unified diff for a small text file whose old text was kept; else size and digest."""
    new = file_digest(path, keep_text=True)
    packed = old_text(read.digest) if old_text is not None and read.digest else None
    if packed is not None and new is not None and new[2] is not None:
        before = unpack_text(packed).splitlines(keepends=True)
        after = unpack_text(new[2]).splitlines(keepends=True)
        lines = difflib.unified_diff(before, after, f"a/{shown}", f"b/{shown}")
        return "".join(lines)
    size = new[0][0] if new is not None else 0
    digest = new[1] if new is not None else "-"
    return (  # a binary or large file: what can be said without its old bytes
        f"{shown}: {read.size} bytes -> {size} bytes; "
        f"digest {read.digest[:12] or '-'} -> {digest[:12]}"
        + ("" if read.size <= TEXT_LIMIT else " (too large to diff)")
        + "\n"
    )
