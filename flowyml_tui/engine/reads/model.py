"""`Read`: one thing a step read, as stored with its entry and sent in its events; and
`ReadSpec`, what a runner is asked to record."""

from __future__ import annotations

import msgspec


class Read(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One file, folder or SQLite database a step read, as it was when the step read it."""

    path: str
    """Relative to the pipeline file's folder when under it (so a team's checkouts agree),
    else absolute; a declared glob's pattern for kind "glob"."""
    kind: str
    """"file", "folder", "sqlite", or "glob" (a declared pattern's list of matches)."""
    digest: str
    """xxh3-128 of the bytes (file, sqlite), of the sorted names and types (folder) or of the
    sorted matches (glob); "" when nothing was there."""
    size: int = 0
    """Bytes of a file; names in a folder or matches of a glob."""
    mtime_ns: int = 0
    ctime_ns: int = 0
    inode: int = 0
    declared: bool = False
    """From `@step(reads=...)`, not seen by the audit hook."""


class ReadSpec(msgspec.Struct, frozen=True):
    """What a runner records of a step's reads: the roots not to record (the cache dir) and
    the step's declared `reads=` patterns, made absolute."""

    track: bool = True
    """Record what the step reads (`track_reads=`); declared patterns are kept either way."""
    excluded: tuple[str, ...] = ()
    declared: tuple[str, ...] = ()
    root: str | None = None
    """The pipeline file's folder: paths under it are kept relative to it (None: absolute);
    declared patterns are relative to it (else to the working folder)."""
