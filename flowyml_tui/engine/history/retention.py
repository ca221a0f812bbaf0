"""Which run records stay: the newest `keep` by write time, each with its log folder.

`prune` lists the runs folder and decides from what is there. A recorder calls `after_write`
after each record it writes: listing the folder and ordering it cost a cached 100-step run
a sixth of its time, so a process lists it at its first write and at every `LIST_EVERY`th,
and in between drops the oldest record it knows of. That never drops a record with fewer
than `keep` newer ones: every record it knows of is on disk (unless removed by hand), and
one written meanwhile by another process is newer than all it listed. Such records can
make the folder hold more than `keep` until this process lists it again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

STALE_SECONDS = 3600.0
"""A temp file or a log folder without its record, idle this long, was left by a killed run."""
LIST_EVERY = 10
"""A process lists the runs folder at its first record and then at every tenth."""

_record_times: dict[str, dict[str, float]] = {}
"""Runs folder -> record file name -> its write time, as this process last read it."""


class _Known:
    """What this process knows of one runs folder: its records, oldest first, as listed then
    plus those it wrote since; and which of them may have a log folder (those listed with
    one, and those it wrote since)."""

    __slots__ = ("folders", "keep", "order", "writes")

    def __init__(self, newest_first: list[str], folders: set[str], keep: int) -> None:
        self.order = dict.fromkeys(reversed(newest_first))
        self.folders = folders
        self.keep = keep
        self.writes = 0


_known: dict[str, _Known] = {}
_lock = threading.Lock()


def forget_time(directory: Path | str, name: str) -> None:
    """A record written again under its name: its write time is read again when needed."""
    _record_times.get(os.fspath(directory), {}).pop(name, None)


def after_write(directory: str, name: str, keep: int, *, with_folder: bool = True) -> list[str]:
    """Prune after this process wrote the record `name` in the runs folder `directory`
    (`with_folder`: its run may have a log folder): lists the folder (`prune`) at its first
    write and every `LIST_EVERY`th, else drops the oldest records it knows of past `keep`.
    Returns the paths removed."""
    cut = max(1, keep)
    with _lock:
        known = _known.get(directory)
        if known is None or known.keep != cut or known.writes >= LIST_EVERY - 1:
            known = None
        else:
            known.writes += 1
            order = known.order
            order.pop(name, None)
            order[name] = None
            if with_folder:
                known.folders.add(name[: -len(".json")])
            dropped: list[tuple[str, bool]] = []
            while len(order) > cut:
                oldest = next(iter(order))
                del order[oldest]
                stem = oldest[: -len(".json")]
                dropped.append((oldest, stem in known.folders))
                known.folders.discard(stem)
    if known is None:
        return [str(path) for path in prune(directory, keep)]
    removed: list[str] = []
    times = _record_times.get(directory, {})
    for gone, may_have_folder in dropped:
        times.pop(gone, None)
        path = os.path.join(directory, gone)
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            os.unlink(path)
            removed.append(path)
        folder = path[: -len(".json")]
        if may_have_folder and os.path.isdir(folder) and not os.path.islink(folder):
            remove_run_folder(folder)
            removed.append(folder)
    return removed


def prune(folder: Path | str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` records (by write time) and their log folders, and
    temp files and log folders left by killed runs; returns what was removed.

    The listing is names only (a record is `<run>.json`, a writer's temp `.<run>.<x>.tmp`, a
    run's log folder `<run>`), a record's time is read once per process (`names_by_time`)
    and only when there are more than `keep` records, and a folder's type only when it may go.
    """
    key, directory = os.fspath(folder), Path(folder)  # this process's memory goes by `key`
    names: list[str] = []
    temps: list[str] = []
    others: list[str] = []
    for name in os.listdir(directory):
        if name.startswith("."):
            if name.endswith(".tmp"):
                temps.append(name)
        elif name.endswith(".json"):
            names.append(name)
        else:
            others.append(name)
    now = time.time()
    removed: list[Path] = []
    for name in temps:
        with contextlib.suppress(OSError):
            if now - os.stat(directory / name).st_mtime > STALE_SECONDS:
                removed.append(directory / name)  # left by a writer that was killed
    cut = max(1, keep)
    if len(names) <= cut:
        records, dropped = names, []
    else:
        records = names_by_time(key, names)
        dropped = records[cut:]
        removed += [directory / name for name in dropped]
    for path in removed:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            path.unlink()
    kept = {name[: -len(".json")] for name in records[:cut]}
    with _lock:  # what `after_write` goes by until the next listing
        newest_first = records[:cut] if dropped else names_by_time(key, names)
        _known[key] = _Known(newest_first, kept.intersection(others), cut)
    if not others:
        return removed
    gone = {name[: -len(".json")] for name in dropped}
    for name in others:  # a folder without a record is a run still going, or a killed one
        if name in kept:
            continue
        folder = directory / name
        if not folder.is_dir() or folder.is_symlink():
            continue
        if name in gone or _idle_seconds(folder, now) > STALE_SECONDS:
            remove_run_folder(folder)
            removed.append(folder)
    return removed


def names_by_time(directory: Path | str, names: list[str]) -> list[str]:
    """Record file names, newest written first; one gone meanwhile is left out.

    A record is written once under its run's own name and never rewritten by the tool, so
    its time is read once per process (`forget_time` drops a name written again): pruning
    follows every run and would otherwise stat every record each time.
    """
    known = _record_times.setdefault(os.fspath(directory), {})
    present = set(names)
    for name in [n for n in known if n not in present]:
        del known[name]
    for name in names:
        if name not in known:
            with contextlib.suppress(FileNotFoundError):
                known[name] = os.stat(os.path.join(directory, name)).st_mtime
    return sorted((n for n in names if n in known), key=lambda n: (known[n], n), reverse=True)


def _idle_seconds(folder: Path, now: float) -> float:
    """Since anything under a run's folder last changed: a run still writing its logs (in
    another process, say) has no record yet and must keep its folder."""
    newest = 0.0
    for root, _, files in os.walk(folder):
        for name in (root, *(os.path.join(root, f) for f in files)):
            with contextlib.suppress(OSError):
                newest = max(newest, os.stat(name, follow_symlinks=False).st_mtime)
    return now - newest


def remove_run_folder(folder: Path | str) -> None:
    """A run's folder (its step logs); never follows a symlink out of runs/."""
    shutil.rmtree(folder, ignore_errors=True)
