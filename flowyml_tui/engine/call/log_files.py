"""A step's whole output on disk, and only a bounded tail of it in memory.

A step that prints a million lines must not hold a million events: the recorder streams each
step's output to `<cache_dir>/runs/<run_id>/logs/<step>.log` as it arrives, and the executor
keeps only the last chunks (`OutputTail`) in `StepResult.logs` and in the run's events.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import IO

from ..cache.private import ensure_private_dir
from ..events import Event, StepLog

LOGS_DIRNAME = "logs"
TAIL_CHUNKS = 5000
"""Chunks (a line, usually) of a step's output kept in memory; the log file has them all."""
TAIL_CHARS = 1_000_000
"""Characters of a step's output kept in memory."""
_BUFFER = 256 * 1024


def log_file_name(step: str) -> str:
    """A file name for a step's log; a step name that is not one gets a digest of its own, so
    two steps never share a file."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", step).lstrip(".")[:100] or "step"
    if cleaned != step:
        import hashlib  # rare, and OpenSSL costs start-up

        cleaned += "-" + hashlib.sha256(step.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return cleaned + ".log"


class LogFiles:
    """One run's log files, one per step, written as output arrives.

    Never raises: the first write that fails (a full disk) removes this run's partial files,
    sets `error`, and later output is kept in memory only.
    """

    def __init__(self, run_dir: Path, relative_to: Path) -> None:
        self.directory = run_dir / LOGS_DIRNAME
        self._relative_to = relative_to
        self._open: dict[str, IO[str]] = {}
        self._written: dict[str, Path] = {}
        self.error: str | None = None

    def write(self, step: str, text: str) -> None:
        if self.error is not None:
            return
        handle = self._open.get(step)
        try:
            if handle is None:
                handle = self._open[step] = self._start(step)
            handle.write(text)
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def close(self, step: str) -> None:
        """The step ended: flush its file (a step that runs again appends to it)."""
        handle = self._open.pop(step, None)
        if handle is not None:
            try:
                handle.close()
            except OSError as exc:
                self._fail(exc)

    def close_all(self) -> None:
        for step in list(self._open):
            self.close(step)

    def relative_path(self, step: str) -> str | None:
        """Where the step's whole output is, relative to the cache dir; None if not written."""
        path = self._written.get(step)
        if path is None or self.error is not None:
            return None
        return path.relative_to(self._relative_to).as_posix()

    def _start(self, step: str) -> IO[str]:
        run_dir = self.directory.parent
        ensure_private_dir(run_dir.parent, "run records dir")  # 0700 whatever the umask
        for private in (run_dir, self.directory):  # not mkdir(parents=True): umask modes
            with contextlib.suppress(FileExistsError):
                private.mkdir(mode=0o700)
        path = self.directory / log_file_name(step)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._written[step] = path
        return open(fd, "a", encoding="utf-8", errors="backslashreplace", buffering=_BUFFER)

    def _fail(self, exc: Exception) -> None:
        self.error = f"step logs not written to {self.directory}: {exc}"
        for handle in self._open.values():
            with contextlib.suppress(OSError, ValueError):
                handle.close()
        self._open.clear()
        for path in self._written.values():  # half a log misleads, and a full disk wants room
            with contextlib.suppress(OSError):
                path.unlink()


class OutputTail:
    """The last chunks of one step's output in memory: in `StepResult.logs` and, as `StepLog`
    events, in the run's event list. Trimmed in batches, so a chunk costs O(1) on average."""

    __slots__ = ("_chars", "_events", "_logs", "_step")

    def __init__(self, step: str, logs: list[tuple[str, str]], events: list[Event]) -> None:
        self._step = step
        self._logs = logs
        self._events = events
        self._chars = 0

    def add(self, stream: str, text: str, event: StepLog) -> None:
        self._logs.append((stream, text))
        self._events.append(event)
        self._chars += len(text)
        if len(self._logs) > 2 * TAIL_CHUNKS or self._chars > 2 * TAIL_CHARS:
            self._trim()

    def _trim(self) -> None:
        keep, chars = 0, 0
        for _, text in reversed(self._logs):
            if keep >= TAIL_CHUNKS or chars + len(text) > TAIL_CHARS:
                break
            keep += 1
            chars += len(text)
        drop = len(self._logs) - max(keep, 1)  # the last chunk stays, however long
        del self._logs[:drop]
        self._chars = sum(len(text) for _, text in self._logs)
        kept: list[Event] = []
        for event in self._events:  # the same oldest `drop` chunks, as events
            if drop and isinstance(event, StepLog) and event.step == self._step:
                drop -= 1
                continue
            kept.append(event)
        self._events[:] = kept
