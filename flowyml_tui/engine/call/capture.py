"""Per-step capture of prints and log records, routed by context so concurrent steps keep their own.

`sys.stdout` and `sys.stderr` are replaced once (and again if something else replaces them later)
by proxies that send each write to the sink of the step running in the current context (a
`ContextVar`), or to the real stream when no step is capturing. Log records go through one root
handler that looks up the current step the same way. So two steps running at once on two threads
each get exactly their own output, and nothing is swapped back and forth per step.

A thread started (`Thread.start()`) while a step captures writes to that step's sink until the
step ends, then to the real stream. Threads that already existed (a pool shared between steps)
write where their own context says; `pool.submit(contextvars.copy_context().run, fn, x)` has
the work counted for the step that submitted it (`asyncio.to_thread` does so already).
Writes to the file descriptor itself (subprocesses, C extensions) are not captured.
"""

from __future__ import annotations

import codecs
import io
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .capture_scope import active_capture as _active
from .capture_scope import current_capture as _current

LogSink = Callable[[str, str], None]
"""(stream, text) -> None; stream is "stdout", "stderr" or "log"."""

_STREAMS = ("stdout", "stderr")


class _Capture:
    """One step's capture: complete lines go to its sink as they are written."""

    __slots__ = ("_decoders", "_lock", "_pending", "_sink", "closed")

    def __init__(self, sink: LogSink) -> None:
        self._sink = sink
        self._pending = dict.fromkeys(_STREAMS, "")
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}
        self._lock = threading.Lock()
        self.closed = False

    def write(self, stream: str, text: str) -> bool:
        """False once the step has ended: the caller writes to the real stream instead."""
        with self._lock:
            if self.closed:
                return False
            self._add(stream, text)
            return True

    def write_bytes(self, stream: str, data: bytes) -> bool:
        with self._lock:
            if self.closed:
                return False
            decoder = self._decoders.get(stream)
            if decoder is None:
                decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                self._decoders[stream] = decoder
            self._add(stream, decoder.decode(data))
            return True

    def flush(self, stream: str) -> None:
        with self._lock:
            self._flush(stream)

    def log(self, text: str) -> bool:
        with self._lock:
            if self.closed:
                return False
            self._deliver("log", text)
            return True

    def close(self) -> None:
        with self._lock:
            for stream, decoder in self._decoders.items():
                self._add(stream, decoder.decode(b"", final=True))
            for stream in _STREAMS:
                self._flush(stream)
            self.closed = True

    def _add(self, stream: str, text: str) -> None:
        pending = self._pending[stream] + text
        if "\n" in text:
            complete, _, pending = pending.rpartition("\n")
            self._deliver(stream, complete + "\n")
        self._pending[stream] = pending

    def _flush(self, stream: str) -> None:
        text, self._pending[stream] = self._pending[stream], ""
        if text:
            self._deliver(stream, text)

    def _deliver(self, stream: str, text: str) -> None:
        # Whatever the sink itself prints or logs (a live printer, say) goes to the real stream.
        token = _current.set(None)
        try:
            self._sink(stream, text)
        finally:
            _current.reset(token)


class _RoutedStream:
    """What `sys.stdout`/`sys.stderr` are once capture is installed; see the module docstring."""

    def __init__(self, name: str, real: Any) -> None:
        self._name = name
        self._real = real
        self._buffer = _RoutedBuffer(self)

    @property
    def real(self) -> Any:
        return self._real

    def write(self, text: str) -> int:
        capture = _active()
        if capture is not None:
            if not isinstance(text, str):
                raise TypeError(f"write() argument must be str, not {type(text).__name__}")
            if capture.write(self._name, text):
                return len(text)
        return self._real.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        capture = _active()
        if capture is None:
            self._real.flush()
        else:
            capture.flush(self._name)

    @property
    def buffer(self) -> _RoutedBuffer:
        return self._buffer

    @property
    def encoding(self) -> str:
        """UTF-8 while capturing: captured bytes are decoded as UTF-8."""
        if _active() is not None:
            return "utf-8"
        return getattr(self._real, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return "strict" if _active() is not None else getattr(self._real, "errors", "strict")

    def isatty(self) -> bool:
        """False while capturing, so libraries print no colour codes or progress bars to a log."""
        return False if _active() is not None else self._real.isatty()

    def fileno(self) -> int:
        """The real stream's descriptor: writes to it bypass capture (as a subprocess's would)."""
        return self._real.fileno()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False if _active() is not None else bool(getattr(self._real, "closed", False))

    def close(self) -> None:
        """Never closes the real stream: it is the process's, not a step's."""
        self.flush()

    def __getattr__(self, name: str) -> Any:  # reconfigure, line_buffering, mode, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real, name)


class _RoutedBuffer:
    """`sys.stdout.buffer`: bytes are captured decoded as UTF-8 (bad bytes become U+FFFD)."""

    def __init__(self, text: _RoutedStream) -> None:
        self._text = text

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = memoryview(data).nbytes
        capture = _active()
        if capture is not None and capture.write_bytes(self._text._name, bytes(data)):
            return size
        real = self._text.real
        raw = getattr(real, "buffer", None)
        if raw is not None:
            real.flush()  # keep the order of text already written
            return raw.write(data)
        real.write(bytes(data).decode(getattr(real, "encoding", None) or "utf-8", "replace"))
        return size

    def writelines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _active() is not None:
            self._text.flush()
            return
        raw = getattr(self._text.real, "buffer", None)
        (raw if raw is not None else self._text.real).flush()

    def fileno(self) -> int:
        return self._text.fileno()

    def isatty(self) -> bool:
        return self._text.isatty()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._text.closed

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(getattr(self._text.real, "buffer", self._text.real), name)


io.TextIOBase.register(_RoutedStream)
io.BufferedIOBase.register(_RoutedBuffer)


_lock = threading.Lock()


_original_start = threading.Thread.start


def _start_in_capture(self: threading.Thread) -> None:
    """`Thread.start` that hands the starting step's capture to the new thread."""
    capture = _active()
    if capture is not None:
        run = self.run

        def run_captured() -> None:
            _current.set(capture)
            run()

        self.run = run_captured  # type: ignore[method-assign]
    _original_start(self)


def _install() -> None:
    """Put the proxies in place (cheap when they already are) and patch `Thread.start` once."""
    if type(sys.stdout) is _RoutedStream and type(sys.stderr) is _RoutedStream:
        return
    with _lock:
        for name in _STREAMS:
            current = getattr(sys, name)
            if current is not None and type(current) is not _RoutedStream:
                setattr(sys, name, _RoutedStream(name, current))
        threading.Thread.start = _start_in_capture  # type: ignore[method-assign]


@contextmanager
def capture_output(sink: LogSink) -> Iterator[None]:
    """Route this context's stdout, stderr and logging to `sink` while a step runs."""
    _install()
    capture = _Capture(sink)
    from .log_route import attach_logging, detach_logging  # logging costs start-up

    attach_logging()
    token = _current.set(capture)
    try:
        yield
    finally:
        _current.reset(token)
        capture.close()
        detach_logging()
