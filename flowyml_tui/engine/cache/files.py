"""The files under a local store: which value files a row points to, which are orphans, and
how many bytes each kind takes.

diskcache keeps values above a size as files under ``store/ab/cd/<hex>.val`` and the row that
points to one is written after the file. A process killed between the two (or a write that
fails half-way on a full disk) leaves a file no row points to: invisible to diskcache, to
eviction and to ``clear``. This module finds those by listing the directory, never by trusting
the database alone.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import sqlite3
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

DB_NAME = "cache.db"
_DB_FILES = (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm")
_WRITING = ".writing-"
"""Prefix of a `WriterMark`: left behind only by a process that was killed."""


def referenced(sql) -> set[str]:
    """Relative paths of the value files rows point to (`sql` is a diskcache `_sql`)."""
    rows = sql("SELECT filename FROM Cache WHERE filename IS NOT NULL").fetchall()
    return {os.path.normpath(name) for (name,) in rows}


def referenced_read_only(store_dir: Path) -> set[str] | None:
    """The same, read without writing a byte (a full disk); None if that cannot be known.

    sqlite in WAL mode needs to grow its shared-memory file even to read, so the database is
    opened as immutable, which skips the WAL: safe only when the WAL holds nothing.
    """
    wal = store_dir / (DB_NAME + "-wal")
    try:
        if wal.exists() and wal.stat().st_size > 0:
            return None  # committed rows may live there: deleting their files would lose them
        uri = f"{(store_dir / DB_NAME).as_uri()}?mode=ro&immutable=1"
        db = sqlite3.connect(uri, uri=True, timeout=5)
        try:
            return referenced(db.execute)
        finally:
            db.close()
    except (OSError, sqlite3.Error):
        return None


def value_files(store_dir: Path) -> Iterator[tuple[str, int]]:
    """(relative path, bytes) of every file in the value subdirectories of a store."""
    try:
        tops = list(os.scandir(store_dir))
    except OSError:
        return
    for top in tops:
        if not top.is_dir(follow_symlinks=False):
            continue
        for dirpath, _dirs, names in os.walk(top.path):
            for name in names:
                full = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):
                    yield os.path.relpath(full, store_dir), os.lstat(full).st_size


def remove_orphans(store_dir: Path, keep: set[str]) -> tuple[int, int]:
    """Delete value files not in `keep`; (files, bytes) removed. Needs no free space."""
    files = freed = 0
    for relative, size in list(value_files(store_dir)):
        if relative in keep:
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(store_dir / relative)
            files += 1
            freed += size
    _remove_empty_dirs(store_dir)
    return files, freed


def _remove_empty_dirs(store_dir: Path) -> None:
    for top in os.scandir(store_dir):
        if top.is_dir(follow_symlinks=False):
            for dirpath, _dirs, _names in os.walk(top.path, topdown=False):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)


def usage(cache_dir: Path, keep: set[str]) -> dict[str, int]:
    """Every byte under the cache dir, by kind: values rows point to, the database, orphan
    value files, damaged databases set aside, run records, and anything else (stray files)."""
    store_dir = cache_dir / "store"
    found = {
        "values": 0,
        "database": 0,
        "orphans": 0,
        "set_aside": 0,
        "records": 0,
        "other": 0,
    }
    seen_values = set()
    for relative, size in value_files(store_dir):
        seen_values.add(relative)
        found["values" if relative in keep else "orphans"] += size
    for dirpath, dirs, names in os.walk(cache_dir):
        here = Path(dirpath)
        if here == store_dir:
            dirs.clear()  # its subdirectories are the value files counted above
        for name in names:
            try:
                size = os.lstat(here / name).st_size
            except OSError:
                continue
            if here == store_dir and name in _DB_FILES:
                found["database"] += size
            elif here == store_dir and name.startswith(SET_ASIDE):
                found["set_aside"] += size
            elif here == cache_dir / "runs" or (cache_dir / "runs") in here.parents:
                found["records"] += size
            else:
                found["other"] += size
    found["total"] = sum(found.values())
    return found


SET_ASIDE = DB_NAME + ".corrupt-"
"""Prefix of a damaged database moved aside: counted by `usage`, removed by `remove_set_aside`."""


def move_aside(store_dir: Path) -> Path:
    """Rename a database that is not one (and its journal) to ``cache.db.corrupt-<time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = store_dir / f"{SET_ASIDE}{stamp}"
    if target.exists():  # a second one within the second: never replace the first
        target = store_dir / f"{SET_ASIDE}{stamp}-{os.getpid()}-{time.monotonic_ns()}"
    for name in _DB_FILES:
        source = store_dir / name
        if source.exists():
            os.replace(source, target.with_name(target.name + name[len(DB_NAME) :]))
    return target


def remove_set_aside(store_dir: Path) -> tuple[int, int]:
    """Delete the damaged databases set aside by earlier opens; (files, bytes) removed."""
    removed = freed = 0
    try:
        names = [e.name for e in os.scandir(store_dir) if e.name.startswith(SET_ASIDE)]
    except OSError:
        return 0, 0
    for name in names:
        with contextlib.suppress(OSError):
            size = os.lstat(store_dir / name).st_size
            os.unlink(store_dir / name)
            removed += 1
            freed += size
    return removed, freed


def passes_quick_check(db_path: Path) -> bool:
    """False when SQLite finds the file damaged (a bad page inside a valid header).

    Run only after a query failed: it reads every page, which no healthy open should pay.
    A database merely locked or busy is not proven damaged, so it passes.
    """
    try:
        db = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError as exc:
        return not is_not_a_database(exc)
    except sqlite3.DatabaseError:
        return False
    return rows == [("ok",)]


def is_disk_full(exc: BaseException, where: Path | None = None) -> bool:
    """ENOSPC/EDQUOT, however sqlite or the OS words it (sqlite may only say "disk I/O
    error" when it cannot grow its shared-memory file: then the free space decides)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if not isinstance(exc, sqlite3.Error):
        return False
    if "full" in str(exc).lower():
        return True
    if where is not None and "i/o" in str(exc).lower():
        try:
            return os.statvfs(where).f_bavail * os.statvfs(where).f_frsize < _FULL_BELOW
        except OSError:
            return False
    return False


_FULL_BELOW = 1 << 20
"""Less free space than this, and a sqlite I/O error is taken for a full disk."""


def wipe(store_dir: Path) -> tuple[int, int]:
    """Delete every value file and the database: `clear` when sqlite cannot even open."""
    files, freed = remove_orphans(store_dir, keep=set())
    for name in _DB_FILES:
        with contextlib.suppress(OSError):
            freed += os.lstat(store_dir / name).st_size
            os.unlink(store_dir / name)
            files += 1
    return files, freed


def is_not_a_database(exc: BaseException) -> bool:
    """sqlite saying the file is garbage (not: locked, busy, full, read-only)."""
    if type(exc) is sqlite3.DatabaseError:
        return True
    text = str(exc).lower()
    return isinstance(exc, sqlite3.Error) and ("malformed" in text or "not a database" in text)


class WriterMark:
    """A marker naming this process, held from its first write to a store until the store
    closes or the process exits: one left behind means the process was killed, maybe in the
    middle of a write (one file per store and process, not per write: that cost 20%)."""

    _count = itertools.count()

    def __init__(self, store_dir: Path) -> None:
        self.store_dir = store_dir
        self._pid = 0
        self._release: weakref.finalize | None = None

    def hold(self) -> None:
        if self._release is not None and self._release.alive and self._pid == os.getpid():
            return
        self._pid = os.getpid()  # a forked child marks its own writes
        path = self.store_dir / f"{_WRITING}{self._pid}-{next(self._count)}"
        try:
            path.touch()
        except OSError:
            return  # a full disk: the write fails too, and cleans up after itself
        self._release = weakref.finalize(self, _unlink_quietly, path)

    def release(self) -> None:
        if self._release is not None and self._pid == os.getpid():
            self._release()


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def dead_writers(store_dir: Path) -> list[Path]:
    """Markers of processes that died while writing: their value files may be orphans."""
    found = []
    try:
        names = [e.name for e in os.scandir(store_dir) if e.name.startswith(_WRITING)]
    except OSError:
        return []
    for name in names:
        try:
            pid = int(name[len(_WRITING) :].partition("-")[0])
            if pid == os.getpid():
                continue  # another store of this process may be writing right now
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue  # not a marker of ours, or a live process of another user
        found.append(store_dir / name)
    return found
