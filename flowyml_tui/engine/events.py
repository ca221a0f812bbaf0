"""Frozen, JSON-serialisable events: the one contract between the engine and its consumers.

The executor reports a run only through these, so the TUI (over a pipe), the headless CLI and the
run recorder all see exactly the same thing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class StepStatus(StrEnum):
    """Where a step is in a run."""

    PENDING = "pending"
    RUNNING = "running"
    CACHED = "cached"
    EXECUTED = "executed"
    FAILED = "failed"
    SKIPPED = "skipped"
    PINNED = "pinned"


class ReasonKind(StrEnum):
    """Why a step ran or was reused; the words for people are in `StepFinished.reason`."""

    CACHED = "cached"
    NEW_STEP = "new_step"
    CODE_CHANGED = "code_changed"
    INPUT_CHANGED = "input_changed"
    UPSTREAM_CHANGED = "upstream_changed"
    CONTEXT_CHANGED = "context_changed"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"
    PINNED = "pinned"
    CACHE_DISABLED = "cache_disabled"
    CORRUPT_ENTRY = "corrupt_entry"
    KEY_CHANGED = "key_changed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class StepInfo:
    """The static shape of a step, sent once per run so a consumer can draw the DAG."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    upstream: tuple[str, ...]
    cache: str
    ttl: float | None = None
    source_file: str | None = None
    source_line: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event; `kind` names the subclass on the wire."""

    kind: ClassVar[str] = "event"
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        data = _plain(dataclasses.asdict(self))
        data["event"] = self.kind
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    pipeline: str
    started_at: float
    steps: tuple[StepInfo, ...] = ()
    source_file: str | None = None
    cache_dir: str | None = None


@dataclass(frozen=True, slots=True)
class StepStarted(Event):
    kind: ClassVar[str] = "step_started"
    step: str
    started_at: float
    reason: str = ""
    reason_kind: str = ""


@dataclass(frozen=True, slots=True)
class StepLog(Event):
    """A chunk of a step's own output; `stream` is stdout, stderr or log."""

    kind: ClassVar[str] = "step_log"
    step: str
    stream: str
    text: str


@dataclass(frozen=True, slots=True)
class StepFinished(Event):
    kind: ClassVar[str] = "step_finished"
    step: str
    status: str
    reason: str
    reason_kind: str
    cached: bool
    duration_seconds: float
    saved_seconds: float = 0.0
    cache: str = "code_hash"
    key: str | None = None
    code_hash: str | None = None
    changed: tuple[str, ...] = ()
    diff: str | None = None
    error: str | None = None
    input_fingerprints: dict[str, str] = field(default_factory=dict)
    output_fingerprints: dict[str, str] = field(default_factory=dict)
    output_sizes: dict[str, int] = field(default_factory=dict)
    output_previews: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunWarning(Event):
    """Something the user should know that did not stop the run (a corrupt entry, say)."""

    kind: ClassVar[str] = "warning"
    message: str
    step: str | None = None


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    pipeline: str
    status: str
    started_at: float
    finished_at: float
    duration_seconds: float
    executed: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    saved_seconds: float = 0.0
    error: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (RunStarted, StepStarted, StepLog, StepFinished, RunWarning, RunFinished)
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict()` output (the worker protocol's other end)."""
    data = dict(data)
    cls = EVENT_TYPES[data.pop("event")]
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    if cls is RunStarted:
        kwargs["steps"] = tuple(
            StepInfo(
                **{
                    **s,
                    "inputs": tuple(s["inputs"]),
                    "outputs": tuple(s["outputs"]),
                    "upstream": tuple(s["upstream"]),
                }
            )
            for s in kwargs.get("steps", ())
        )
    for name in ("changed", "warnings"):
        if name in kwargs and isinstance(kwargs[name], list):
            kwargs[name] = tuple(kwargs[name])
    return cls(**kwargs)


def event_from_json(line: str) -> Event:
    return event_from_dict(json.loads(line))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
