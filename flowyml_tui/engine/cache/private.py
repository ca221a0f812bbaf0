"""Is a path the store opens private to us? Ours, not writable by others, not a symlink.

Cached values are pickles: anything another local user could have written (a swapped `store/`,
a planted row or value file) must be refused before it is read. Nothing here ever changes a
mode: a directory the store did not create is used as it is or refused, never chmodded.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from pathlib import Path

from ..errors import CacheError

PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg")
"""A dir holding one of these is a project root: the cache would write among the sources."""

_MY_UID = os.getuid() if hasattr(os, "getuid") else None


def refuse_empty(text: str) -> None:
    """An empty cache dir would silently mean the working directory: say so instead."""
    if not text.strip():
        raise CacheError(
            "the cache dir is an empty path (it would mean the working directory); "
            "pass a directory, e.g. --cache-dir .flowyml/cache"
        )


def refuse_project_root(path: Path) -> None:
    """Refuse a cache dir that is a project root: store/ and runs/ do not belong there."""
    for marker in PROJECT_MARKERS:
        if os.path.lexists(path / marker):
            raise CacheError(
                f"the cache dir {path} looks like a project root (it holds {marker}); the cache "
                f"would write store/ and runs/ among your files: pass a dedicated dir, e.g. "
                f"--cache-dir {path / '.flowyml' / 'cache'}"
            )


def check_private(path: Path | str, info: os.stat_result, what: str, *, is_dir: bool) -> None:
    """Raise CacheError unless `info` (from lstat/fstat of `path`) is ours and private.

    A symlink, another user's file, or one others can write could hold a pickle we did not
    write; the message names the path and what to do.
    """
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path) if os.path.islink(path) else "?"
        raise CacheError(
            f"the {what} {path} is a symbolic link (to {target}); cached results are pickles and "
            "are only loaded from files private to you: remove the link (the cache is rebuilt) "
            "or pass --cache-dir with the real directory"
        )
    kind_ok = stat.S_ISDIR(info.st_mode) if is_dir else stat.S_ISREG(info.st_mode)
    if not kind_ok:
        kind = "directory" if is_dir else "regular file"
        raise CacheError(
            f"the {what} {path} is not a {kind}; move it away or pass another --cache-dir"
        )
    if _MY_UID is not None and info.st_uid != _MY_UID:
        raise CacheError(
            f"the {what} {path} belongs to another user (uid {info.st_uid}), so it may hold "
            "pickles you did not write; nothing was loaded from it: move it away (the cache is "
            "rebuilt) or pass another --cache-dir"
        )
    if info.st_mode & 0o022:
        raise CacheError(
            f"the {what} {path} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}), "
            "so another user could have planted a pickle in it; nothing was loaded from it: "
            f"delete it (the cache is rebuilt), or if you trust it run `chmod 700 {path}` "
            "(anything others wrote in it stays refused)"
        )


def check_private_path(path: Path, what: str, *, is_dir: bool) -> None:
    """`check_private` of an existing path, read with lstat (a symlink is not followed)."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise CacheError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    check_private(path, info, what, is_dir=is_dir)


def ensure_private_dir(path: Path | str, what: str = "cache dir") -> bool:
    """Create `path` 0700 if missing (True); refuse an existing one that is not private.

    Parents are created as usual; only the dir itself must be private. An existing dir keeps
    its mode: readable by others is allowed, writable by others is refused. One `lstat` when
    it exists: a record's write asks this of runs/ every run.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(path, 0o700)
            created = True
        except FileExistsError:  # another process made it first: check theirs below
            created = False
        except OSError as exc:
            raise CacheError(f"cannot create the {what} {path}: {exc.strerror}") from exc
        check_private_path(Path(path), what, is_dir=True)
        return created
    except OSError as exc:
        raise CacheError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    check_private(path, info, what, is_dir=True)
    return False


_passed: dict[str, tuple[int, int, int, int, int]] = {}
"""Cache dir -> (device, inode, mode, owner, mtime_ns) when it last passed `ensure_cache_dir`."""


def ensure_cache_dir(path: Path | str) -> None:
    """The cache dir itself: private (created 0700 if missing) and not a project root.

    Asked at least twice a run. A dir whose one `lstat` matches what it was when it last
    passed is the same dir with the same owner and mode, and with the same entries (adding
    a project marker changes its mtime), so it passes again. The match is kept only when
    the dir had not changed in the second before that pass: a change within one tick of the
    file system's clock could leave its mtime as it was (git's racy-stat rule).
    """
    name = str(path)
    known = _passed.get(name)
    if known is not None:
        with contextlib.suppress(OSError):
            if _signature(os.lstat(path)) == known:
                return
    _passed.pop(name, None)
    if not ensure_private_dir(path):
        refuse_project_root(Path(path))
    checked = time.time_ns()
    with contextlib.suppress(OSError):
        info = os.lstat(path)
        if info.st_mtime_ns < checked - 1_000_000_000:
            _passed[name] = _signature(info)


def _signature(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_mode, info.st_uid, info.st_mtime_ns)


def ensure_private_file(path: Path, what: str) -> None:
    """Create an empty file 0600 if missing (so SQLite never makes it with the umask's mode),
    then refuse it unless it is private."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise CacheError(f"cannot create the {what} {path}: {exc.strerror}") from exc
    check_private_path(path, what, is_dir=False)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
