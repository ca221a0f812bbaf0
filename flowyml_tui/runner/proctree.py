"""Every process a worker started, however it detached (a new session, a double fork), and how to
stop them all.

A process group is not enough: `start_new_session=True` or a daemon's `setsid()` leaves it. On
Linux the worker becomes a child subreaper, so orphans of its descendants are re-parented to it
instead of init and stay findable by ancestry in /proc. Elsewhere (no prctl, no /proc) these
functions find nothing and the caller's process-group kill is all there is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
_FREEZE_ROUNDS = 50
"""Scans before giving up on a tree that keeps forking faster than we stop it."""

Proc = tuple[int, int]
"""(pid, start time in clock ticks): a pid alone may be reused once its process is reaped."""


def become_subreaper() -> bool:
    """Orphans of our descendants become our children, not init's; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # here, not at module level: only the worker pays for it, once

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, start time) of a live pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data.rsplit(b")", 1)[-1].split()  # the command name may hold spaces and ")"
    try:
        return fields[0].decode(), int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def descendants(root: int, spare: frozenset[Proc] = frozenset()) -> list[Proc]:
    """Live (non-zombie) descendants of `root`, parents before children; [] without /proc.
    Processes in `spare` are left out, and so is everything below them."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    children: dict[int, list[tuple[int, str, int]]] = {}
    for name in names:
        if not name.isdigit():
            continue
        pid = int(name)
        info = _stat(pid)
        if info is not None:
            state, ppid, start = info
            children.setdefault(ppid, []).append((pid, state, start))
    found: list[Proc] = []
    queue = [root]
    while queue:
        for pid, state, start in children.get(queue.pop(0), ()):
            if (pid, start) in spare:
                continue
            if state not in ("Z", "X"):
                found.append((pid, start))
            queue.append(pid)
    return found


def freeze_tree(root: int, spare: frozenset[Proc] = frozenset()) -> list[Proc]:
    """SIGSTOP every descendant of `root` until a scan finds no new one: a stopped process
    cannot fork, so what is found can then be killed without a new child slipping away.
    `spare` and their descendants are left alone."""
    stopped: dict[int, int] = {}
    for _ in range(_FREEZE_ROUNDS):
        new = [(pid, start) for pid, start in descendants(root, spare) if pid not in stopped]
        if not new:
            break
        for pid, start in new:
            if _signal(pid, start, signal.SIGSTOP):
                stopped[pid] = start
    return list(stopped.items())


def kill_procs(procs: list[Proc]) -> None:
    """SIGKILL each process that is still the one we found (same start time)."""
    for pid, start in procs:
        _signal(pid, start, signal.SIGKILL)


def kill_tree(root: int, spare: frozenset[Proc] = frozenset()) -> list[Proc]:
    """Freeze, then kill, every descendant of `root` (not `root` itself, nor `spare` and what
    is below them); returns them."""
    procs = freeze_tree(root, spare)
    kill_procs(procs)
    return procs


def reap_children(seconds: float, spare: frozenset[Proc] = frozenset()) -> None:
    """Wait for our killed children (orphans re-parented to us included), for at most
    `seconds`: a subreaper that exits leaves its zombies to init, but we clean up after us.
    Processes in `spare` were not killed: they are not waited for."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:  # children left, none exited yet: SIGKILL takes a moment to land
            if time.monotonic() >= deadline or not descendants(os.getpid(), spare):
                return
            time.sleep(0.005)


def _signal(pid: int, start: int, sig: signal.Signals) -> bool:
    info = _stat(pid)
    if info is None or info[2] != start:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
        return True
    return False
