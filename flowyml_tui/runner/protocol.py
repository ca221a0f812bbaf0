"""Runner-level messages: what the worker and the session say besides the engine's own events.

They travel on the same JSON-lines channel as the engine events, and like them they are msgspec
Structs tagged by their `"event"` field: `AnyMessage` is the one tagged union of everything the
worker sends, decoded by one decoder, and a consumer dispatches on the type it gets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from flowyml_tui.engine.events import (
    AnyEvent,
    Event,
    StepLog,
    event_from_dict,
)

EXIT_CHANNEL_LOST = 71
"""The worker's exit code when its events descriptor was closed under it (by user code)."""


class RunnerMessage(msgspec.Struct, frozen=True, gc=False, tag_field="event"):
    """Base of the runner's own messages; `kind` names the subclass on the wire."""

    kind: ClassVar[str] = "runner_message"

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    def to_json(self) -> str:
        try:
            return _ENCODER.encode(self).decode()
        except UnicodeEncodeError:  # a lone surrogate in captured output: json escapes it
            return json.dumps(self.to_dict(), separators=(",", ":"))


class PipelinesFound(RunnerMessage, frozen=True, tag="pipelines_found"):
    """The worker loaded the file: which pipelines it holds, which one runs, what to watch."""

    kind: ClassVar[str] = "pipelines_found"
    file: str
    names: tuple[str, ...]
    selected: str
    local_modules: tuple[str, ...] = ()


class LoadFailed(RunnerMessage, frozen=True, tag="load_failed"):
    """The file could not give a pipeline to run; `file`/`line` point at the user's code."""

    kind: ClassVar[str] = "load_failed"
    file: str
    line: int | None
    message: str
    traceback: str = ""


class ChildOutput(RunnerMessage, frozen=True, tag="child_output"):
    """Output printed outside any step (at import time, say); `stream` is stdout or stderr."""

    kind: ClassVar[str] = "child_output"
    text: str
    stream: str


class ChildExited(RunnerMessage, frozen=True, tag="child_exited"):
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


class RunCancelled(RunnerMessage, frozen=True, tag="run_cancelled"):
    """We stopped the child on purpose (a new save, quitting)."""

    kind: ClassVar[str] = "run_cancelled"
    reason: str


class WorkerExiting(RunnerMessage, frozen=True, tag="worker_exiting"):
    """Worker -> session only: user code called `sys.exit`; folded into `ChildExited`."""

    kind: ClassVar[str] = "worker_exiting"
    code: int
    message: str
    file: str | None = None
    line: int | None = None
    step: str | None = None


class ModulesImported(RunnerMessage, frozen=True, tag="modules_imported"):
    """Worker -> session only, at the end of a run: the modules it imported from outside the
    project (libraries, the standard library's), in order, which the next spare worker
    imports while it waits (`runner/warm.py`)."""

    kind: ClassVar[str] = "modules_imported"
    modules: tuple[str, ...]
    versions: tuple[str, ...] = ()
    """The packages whose installed versions the run's code identity looked up."""


class WarmedUp(RunnerMessage, frozen=True, tag="warmed_up"):
    """A spare worker imported these libraries while it waited; `extra_bytes` is what that
    added to its resident memory (None where it cannot be read); `complete` is false when
    the go came first and the run imports the rest. Sent before the go: the session reads it
    while the spare waits."""

    kind: ClassVar[str] = "warmed_up"
    packages: tuple[str, ...]
    modules: int
    extra_bytes: int | None = None
    complete: bool = True


Message = Event | RunnerMessage
AnyMessage = (
    AnyEvent
    | PipelinesFound
    | LoadFailed
    | ChildOutput
    | ChildExited
    | RunCancelled
    | WorkerExiting
    | ModulesImported
    | WarmedUp
)
"""Everything the worker sends, one tagged union: one decoder reads any line."""
_KINDS = {cls.kind for cls in AnyMessage.__args__}
_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[Any] | None = None
"""Built on first use: building it resolves every annotation."""


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
    global _DECODER
    if _DECODER is None:
        _DECODER = msgspec.json.Decoder(AnyMessage)
    try:
        return _DECODER.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass  # say what is wrong; or JSON msgspec refuses (escaped lone surrogates)
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a JSON line on the events channel: {line[:200]!r}") from exc
    if not isinstance(data, dict) or "event" not in data:
        raise ProtocolError(f"no 'event' field in message: {str(line)[:200]!r}")
    if data["event"] not in _KINDS:
        raise ProtocolError(f"unknown message type {data['event']!r} on the events channel")
    try:
        return msgspec.convert(data, AnyMessage)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"a bad {data['event']} message ({exc}): {str(line)[:200]!r}") from exc
