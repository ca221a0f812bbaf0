"""Frozen, JSON-serialisable events: the one contract between the engine and its consumers.

The executor reports a run only through these, so the TUI (over a pipe), the headless CLI and the
run recorder all see exactly the same thing. They are msgspec Structs rather than dataclasses: a
fully cached run emits one per step, and a Struct is built and encoded several times faster
(a frozen dataclass pays `object.__setattr__` per field; `json` walks `asdict` copies).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar

import msgspec

from .history.breakeven import CacheCost
from .reads.model import Read


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
    FILE_CHANGED = "file_changed"
    """A file, folder or database the step read changed (or went away, or appeared)."""
    FAILED = "failed"
    SKIPPED = "skipped"


# gc=False: events hold only strings, numbers and containers of them, never a cycle, so the
# collector need not track the thousands a large run creates.
class StepInfo(msgspec.Struct, frozen=True, gc=False):
    """The static shape of a step, sent once per run so a consumer can draw the DAG."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    upstream: tuple[str, ...]
    cache: str
    ttl: float | None = None
    source_file: str | None = None
    source_line: int | None = None
    implicit_inputs: tuple[str, ...] = ()
    """Inputs wired by parameter name (flowyml's way), not listed in `inputs=`."""
    retry: int = 0
    timeout: float | None = None
    condition: str | None = None
    tags: dict[str, str] = {}
    resources: str | None = None
    execution_group: str | None = None
    context_keys: dict[str, str | None] = {}
    """Parameters the run context feeds, with the default's repr (None: it has none)."""


class CallStats(msgspec.Struct, frozen=True, gc=False):
    """One call cache's use inside one step run (a `CachePrimitive`, by its name)."""

    name: str
    hits: int = 0
    misses: int = 0
    saved_seconds: float = 0.0
    """What its hits' calls took when they were made: the time this run did not spend."""
    places: tuple[str, ...] = ()
    """The disk directories its entries are in: what the TUI's clear key empties."""
    saved_cost: float = 0.0
    """What its hits' calls cost when they were made (by its `cost_fn`; 0 without one)."""
    spent_cost: float = 0.0
    """What its misses' calls cost (by its `cost_fn`; 0 without one)."""


class Event(msgspec.Struct, frozen=True, gc=False, tag_field="event"):
    """Base of every event; `kind` names the subclass on the wire (the `"event"` field)."""

    kind: ClassVar[str] = "event"
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    def to_json(self) -> str:
        try:
            return _ENCODER.encode(self).decode()
        except UnicodeEncodeError:  # a lone surrogate in a step's output: json escapes it
            return json.dumps(self.to_dict(), separators=(",", ":"))


class RunStarted(Event, frozen=True, tag="run_started"):
    kind: ClassVar[str] = "run_started"
    pipeline: str
    started_at: float
    steps: tuple[StepInfo, ...] = ()
    source_file: str | None = None
    cache_dir: str | None = None
    context: dict[str, str] = {}
    """The run's context values in force, as short texts (`describe/context_text.py`)."""


class StepStarted(Event, frozen=True, tag="step_started"):
    kind: ClassVar[str] = "step_started"
    step: str
    started_at: float
    reason: str = ""
    reason_kind: str = ""


class StepLog(Event, frozen=True, tag="step_log"):
    """A chunk of a step's own output; `stream` is stdout, stderr or log."""

    kind: ClassVar[str] = "step_log"
    step: str
    stream: str
    text: str


class StepFinished(Event, frozen=True, tag="step_finished"):
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
    input_fingerprints: dict[str, str] = {}
    output_fingerprints: dict[str, str] = {}
    output_sizes: dict[str, int] = {}
    output_previews: dict[str, str] = {}
    warnings: tuple[str, ...] = ()
    tier: str | None = None
    """"shared" when a hit came from the team's shared cache; None for the local one."""
    written_by: str | None = None
    """`user@host` who computed a shared hit (stored, signed, with the entry)."""
    retries: int = 0
    """Calls after the first (flowyml's `retry=`); the reason says "after N attempts" too."""
    calls: tuple[CallStats, ...] = ()
    """The call caches (CachePrimitive) the step's function used, by name; () for a hit."""
    reads: tuple[Read, ...] = ()
    """The files, folders and databases the result depends on (recorded or declared)."""


class RunWarning(Event, frozen=True, tag="warning"):
    """Something the user should know that did not stop the run (a corrupt entry, say)."""

    kind: ClassVar[str] = "warning"
    message: str
    step: str | None = None
    code: str | None = None
    """What kind of warning, where a reader acts on it: "shared_offline" (the TUI status line
    says so), "shared_refused", "shared_not_used", "shared_not_shared"; None for the rest."""


class RunFinished(Event, frozen=True, tag="run_finished"):
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
    cache_check_s: float = 0.0
    """What asking the cache took a step this run (the mean over its hits; 0: none asked)."""
    cache_costs: dict[str, CacheCost] = {}
    """Steps whose cached values were loaded or stored this run, and what that took."""
    cache_flags: dict[str, str] = {}
    """Steps whose cache costs more than recomputing them (measured history): why."""
    replay_of: str | None = None
    """The run this one replayed (`run/memo.py`): its steps' events are that run's, under
    this run's id."""


AnyEvent = RunStarted | StepStarted | StepLog | StepFinished | RunWarning | RunFinished
EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (RunStarted, StepStarted, StepLog, StepFinished, RunWarning, RunFinished)
}
_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[AnyEvent] | None = None
"""Built on first use: building it resolves every annotation, a cost `flowyml-tui run` skips."""


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict()` output (the worker protocol's other end).

    Fields this version does not know are ignored, so a newer worker can add some.
    """
    if data.get("event") not in EVENT_TYPES:
        raise ValueError(f"not an engine event: {data.get('event')!r}")
    return msgspec.convert(data, AnyEvent)


def event_from_json(line: str | bytes) -> Event:
    global _DECODER
    if _DECODER is None:
        _DECODER = msgspec.json.Decoder(AnyEvent)
    try:
        return _DECODER.decode(line)
    except msgspec.DecodeError:  # msgspec refuses escaped lone surrogates; json takes them
        return event_from_dict(json.loads(line))
