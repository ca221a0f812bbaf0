"""Runner-level messages: what the worker and the session say besides the engine's own events.

They travel on the same JSON-lines channel as the engine events (`"event"` names the type), so a
consumer reads one stream: engine events from `flowyml_tui.engine.events` plus these.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from flowyml_tui.engine.events import (
    EVENT_TYPES,
    Event,
    StepLog,
    event_from_dict,
    event_from_json,
)

EXIT_CHANNEL_LOST = 71
"""The worker's exit code when its events descriptor was closed under it (by user code)."""


@dataclass(frozen=True, slots=True)
class RunnerMessage:
    """Base of the runner's own messages; `kind` names the subclass on the wire."""

    kind: ClassVar[str] = "runner_message"

    def to_dict(self) -> dict[str, Any]:
        data = {k: _plain(v) for k, v in dataclasses.asdict(self).items()}
        data["event"] = self.kind
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class PipelinesFound(RunnerMessage):
    """The worker loaded the file: which pipelines it holds, which one runs, what to watch."""

    kind: ClassVar[str] = "pipelines_found"
    file: str
    names: tuple[str, ...]
    selected: str
    local_modules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LoadFailed(RunnerMessage):
    """The file could not give a pipeline to run; `file`/`line` point at the user's code."""

    kind: ClassVar[str] = "load_failed"
    file: str
    line: int | None
    message: str
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class ChildOutput(RunnerMessage):
    """Output printed outside any step (at import time, say); `stream` is stdout or stderr."""

    kind: ClassVar[str] = "child_output"
    text: str
    stream: str


@dataclass(frozen=True, slots=True)
class ChildExited(RunnerMessage):
    """The child ended without finishing the run: sys.exit, os._exit, a crash, a kill.

    `signal` is the signal name (``"SIGSEGV"``) when a signal ended it; `file`/`line` point at the
    user's code when it is known (the step that was running, the `sys.exit` call, the crash frame).
    """

    kind: ClassVar[str] = "child_exited"
    returncode: int
    signal: str | None
    stderr_tail: str
    message: str
    file: str | None = None
    line: int | None = None
    step: str | None = None


@dataclass(frozen=True, slots=True)
class RunCancelled(RunnerMessage):
    """We stopped the child on purpose (a new save, quitting)."""

    kind: ClassVar[str] = "run_cancelled"
    reason: str


@dataclass(frozen=True, slots=True)
class WorkerExiting(RunnerMessage):
    """Worker -> session only: user code called `sys.exit`; folded into `ChildExited`."""

    kind: ClassVar[str] = "worker_exiting"
    code: int
    message: str
    file: str | None = None
    line: int | None = None
    step: str | None = None


RUNNER_TYPES: dict[str, type[RunnerMessage]] = {
    cls.kind: cls
    for cls in (PipelinesFound, LoadFailed, ChildOutput, ChildExited, RunCancelled, WorkerExiting)
}

Message = Event | RunnerMessage


_STEP_LOG_TEXT = '"event":"step_log"'
_STEP_LOG_BYTES = _STEP_LOG_TEXT.encode()


_LOG_BATCH_BYTES = b'{"event":"step_logs"'
_LOG_BATCH_ENCODER = msgspec.json.Encoder()


class _LogBatchWire(msgspec.Struct):
    event: str
    logs: list[StepLog]


_LOG_BATCH_DECODER = msgspec.json.Decoder(_LogBatchWire)


def encode_log_batch(logs: list[StepLog]) -> bytes:
    """Several `StepLog` events as one line: a chatty step costs a write and a parse per
    batch, not per printed line. `decode_line` gives back the same events, in order."""
    try:
        body = _LOG_BATCH_ENCODER.encode(logs)
    except UnicodeEncodeError:  # a lone surrogate in a step's output: json escapes it
        body = json.dumps([e.to_dict() for e in logs], separators=(",", ":")).encode()
    return _LOG_BATCH_BYTES + b',"logs":' + body + b"}\n"


@dataclass(frozen=True, slots=True)
class StepLogBatch:
    """One channel line's `StepLog`s, kept together for a consumer that takes them in bulk
    (`RunSession.run(batched_logs=True)`): a chatty step's 100k lines are then a few hundred
    messages through the session and the app, not 100k. Never on the wire itself."""

    logs: tuple[StepLog, ...]


def is_log_batch(line: bytes) -> bool:
    return line.startswith(_LOG_BATCH_BYTES)


def decode_line(line: bytes) -> list[Message]:
    """One line of the channel as the messages it holds: a log batch gives its `StepLog`s."""
    if not line.startswith(_LOG_BATCH_BYTES):
        return [decode_message(line)]
    try:
        return list(_LOG_BATCH_DECODER.decode(line).logs)
    except (msgspec.ValidationError, msgspec.DecodeError):  # escaped lone surrogates
        try:
            data = json.loads(line)
            return [event_from_dict(item) for item in data["logs"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"a bad log batch on the events channel: {line[:200]!r}") from exc


class ProtocolError(ValueError):
    """A line on the events channel that is not a message we know."""


def decode_message(line: str | bytes) -> Message:
    """Decode one JSON line from the channel into an engine event or a runner message."""
    head = line[:40]
    if (_STEP_LOG_BYTES if isinstance(head, bytes) else _STEP_LOG_TEXT) in head:
        # A chatty step sends a line per print: straight to the Struct, not via a dict
        # (several times faster; anything unusual takes the general path below).
        try:
            return event_from_json(line)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
            pass
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a JSON line on the events channel: {line[:200]!r}") from exc
    if not isinstance(data, dict) or "event" not in data:
        raise ProtocolError(f"no 'event' field in message: {str(line)[:200]!r}")
    kind = data["event"]
    if kind in EVENT_TYPES:
        return event_from_dict(data)
    cls = RUNNER_TYPES.get(kind)
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r} on the events channel")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
