"""Messages workers post to the app; widgets change only in the handlers that receive them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.message import Message


@dataclass
class RunnerUpdate(Message):
    """Engine events and runner messages from the run worker, in order: all it read in one go.

    `token` names the run worker that produced them, so a late message from a cancelled run is
    dropped instead of being folded into the run that replaced it.
    """

    payloads: tuple[object, ...]
    token: int


@dataclass
class FilesChanged(Message):
    """A burst of saves touched these files (one message per burst)."""

    paths: frozenset[Path]


@dataclass
class StoreChanged(Message):
    """A cache operation (invalidate, pin, clear) finished; `rerun` starts a run at once."""

    note: str
    rerun: bool
    cleared: bool = False
    """The whole cache was emptied: no row's result is reusable any more."""


@dataclass
class ReportExported(Message):
    """The report of the last run was written."""

    path: Path


@dataclass
class OriginLogsFound(Message):
    """What the runs that produced this run's cached entries printed (step -> its log)."""

    logs: dict[str, object]
    token: int


@dataclass
class EstimatesFound(Message):
    """How long each step usually takes to execute (step -> seconds), from the run records."""

    expected: dict[str, float]
    token: int
