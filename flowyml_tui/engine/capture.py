"""Per-step capture of prints and log records, so user output never mixes into the protocol."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LogSink = Callable[[str, str], None]
"""(stream, text) -> None; stream is "stdout", "stderr" or "log"."""


class _Tap(io.TextIOBase):
    """A text stream that hands complete lines to the sink as they are written."""

    def __init__(self, stream: str, sink: LogSink) -> None:
        self._stream = stream
        self._sink = sink
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            self._sink(self._stream, complete + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            text, self._pending = self._pending, ""
            self._sink(self._stream, text)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False


class _LogTap(logging.Handler):
    def __init__(self, sink: LogSink) -> None:
        super().__init__(logging.NOTSET)
        self._sink = sink
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._sink("log", self.format(record) + "\n")
        except Exception:  # a broken log record must not fail the step
            self.handleError(record)


@contextmanager
def capture_output(sink: LogSink) -> Iterator[None]:
    """Route stdout, stderr and logging to `sink` while a step runs.

    When the user has not configured logging, INFO records are captured too (the default
    WARNING level would hide the `logging.info` calls people put in steps).
    """
    out, err = _Tap("stdout", sink), _Tap("stderr", sink)
    handler = _LogTap(sink)
    root = logging.getLogger()
    old_level = root.level
    if not root.handlers and root.level > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(handler)
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old_out, old_err
        out.flush()
        err.flush()
        root.removeHandler(handler)
        root.setLevel(old_level)
