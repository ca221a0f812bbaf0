"""What the screen shows, as plain data: `RunModel.apply` folds runner messages in, widgets read it.

Keeping this free of widgets lets a burst of a thousand events cost a thousand dict updates; the
widgets then catch up at most once per frame from the `dirty` set.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowyml_tui.engine.events import (
    CallStats,
    RunFinished,
    RunStarted,
    RunWarning,
    StepFinished,
    StepInfo,
    StepLog,
    StepStarted,
    StepStatus,
)
from flowyml_tui.engine.history.totals import RunTotals, run_totals
from flowyml_tui.engine.reads.model import Read
from flowyml_tui.runner.protocol import (
    ChildExited,
    ChildOutput,
    LoadFailed,
    RunCancelled,
    WarmedUp,
)

from .problems import explain_load_failure

HISTORY_LENGTH = 50
LOG_LIMIT = 64_000
"""Characters of captured output kept per step: enough to read, bounded for chatty steps."""
CHILD_OUTPUT_LIMIT = 8000
"""Characters of output printed outside any step kept: the detail of a crash at import time."""
CLEARED_REASON = "cache cleared: runs next time"


@dataclass(slots=True)
class HistoryPoint:
    """One step's outcome in one run of this session."""

    run: int
    status: str
    duration: float


@dataclass(frozen=True, slots=True)
class OriginLog:
    """What the run that produced a cached entry printed, as its record kept it."""

    run_id: str
    lines: tuple[str, ...]
    total_lines: int
    file: str | None
    """The whole log, relative to the cache dir, when that run wrote one."""


@dataclass(frozen=True, slots=True)
class StepLogs:
    """Several `StepLog` events folded at once: the run worker hands them over per frame."""

    events: tuple[StepLog, ...]


@dataclass(slots=True)
class StepRow:
    """Everything known about one step in the current run."""

    info: StepInfo
    status: str = StepStatus.PENDING
    reason: str = ""
    reason_kind: str = ""
    started_at: float | None = None
    duration: float | None = None
    saved: float = 0.0
    cached: bool = False
    changed: tuple[str, ...] = ()
    diff: str | None = None
    error: str | None = None
    logs: deque[str] = field(default_factory=deque)
    """The tail of the step's output, in chunks; the whole of it is in the run's log file."""
    log_chars: int = 0
    log_lines: int = 0
    """Lines the step printed in this run, all of them, not only the kept tail."""
    key: str | None = None
    """The cache entry the step used or wrote: names the run that produced a cached result."""
    origin_log: OriginLog | None = None
    """For a cached step: the output of the run that produced its entry (from the records)."""
    previews: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    tier: str | None = None
    """"shared" when the hit came from the team's shared cache."""
    calls: tuple[CallStats, ...] = ()
    """This run's call-cache use by the step (CachePrimitive hits, misses, time saved)."""
    reads: tuple[Read, ...] = ()
    """The files, folders and databases its result depends on (recorded or declared)."""
    expected: float | None = None
    """Seconds the step usually takes when it executes (recent run records), for "~9s left"."""
    cache_flag: str | None = None
    """Why its cache costs more than recomputing it (measured history, told at the run's end)."""

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def strategy(self) -> str:
        return self.info.cache

    @property
    def cache(self) -> str:
        """The cache strategy (a `StepOutcome` for engine/history/totals.py)."""
        return self.info.cache

    @property
    def saved_seconds(self) -> float:
        return self.saved

    @property
    def call_saved(self) -> float:
        """What the step's call caches saved inside it this run (the step itself ran)."""
        return sum(call.saved_seconds for call in self.calls)

    def add_log(self, text: str) -> None:
        self.log_lines += text.count("\n")
        if len(text) > LOG_LIMIT:  # a frame's worth of a chatty step: only its tail is shown
            cut = text.find("\n", len(text) - LOG_LIMIT)
            text = text[cut + 1 :] if cut != -1 else text[-LOG_LIMIT:]
        self.logs.append(text)
        self.log_chars += len(text)
        while self.log_chars > LOG_LIMIT and len(self.logs) > 1:
            self.log_chars -= len(self.logs.popleft())

    def log_tail(self, lines: int) -> tuple[str, int]:
        """The last `lines` lines printed and how many came before them (kept or not)."""
        text = "".join(self.logs)
        if not text:
            return "", 0
        total = self.log_lines + (0 if text.endswith("\n") else 1)
        tail = text.rstrip("\n").split("\n")[-lines:]
        return "\n".join(tail), max(0, total - len(tail))

    def elapsed(self, now: float) -> float | None:
        """The live duration of a running step, or its final one."""
        if self.status == StepStatus.RUNNING and self.started_at is not None:
            return max(0.0, now - self.started_at)
        return self.duration


@dataclass(slots=True)
class Problem:
    """Why the last attempt produced no (complete) run: shown above the last good table."""

    title: str
    location: str | None
    message: str
    detail: str = ""
    hint: str = ""
    """What to do about it; set for definition errors, whose `detail` is the user's frames only."""
    below: str | None = "The last good run stays below; save the file to try again."
    """The closing line, or None when there is no earlier run on screen to point at."""


@dataclass(slots=True)
class WarningEntry:
    """One distinct warning of this session, with the step it belongs to and when it was seen."""

    step: str | None
    message: str
    first_run: int
    last_run: int
    count: int = 1


class RunModel:
    """The current run, the history of this session and the last problem, folded from messages."""

    def __init__(self, parallel: str = "") -> None:
        self.pipeline = ""
        self.run_id = ""
        self.source_file: str | None = None
        self.cache_dir: str | None = None
        self.run_number = 0
        self.running = False
        self.stopped = False
        """The user stopped the last run (`s`): the status line says so until the next run."""
        self.rows: dict[str, StepRow] = {}
        self.started_steps: set[str] = set()
        """Steps that started running this run (the elapsed-time tick looks only at these)."""
        self._shape: list[tuple[str, tuple[str, ...], str]] = []
        """The last run's steps as (name, upstream, cache): a new shape rebuilds the table."""
        self.history: dict[str, deque[HistoryPoint]] = {}
        self.call_places: dict[str, set[str]] = {}
        self.read_paths: set[str] = set()
        """Every path a step's result read (as events give them: relative to the pipeline
        file's folder when under it): saving one re-runs the pipeline, as saving code does."""
        """Per step, every call-cache directory it used this session: what `x` clears."""
        self.expected: dict[str, float] = {}
        """Step -> how long it usually takes to execute, from the run records (estimates.py)."""
        self.finished: RunFinished | None = None
        self.problem: Problem | None = None
        self.warnings: list[str] = []
        self.warning_log: dict[tuple[str | None, str], WarningEntry] = {}
        """Every distinct warning of the session (`W` lists them); a repeat only counts up."""
        self.child_output: list[str] = []
        self.dirty: set[str] = set()
        self.failed: set[str] = set()
        """The steps whose row says failed: what asks for approval is among them, and looking
        through 10,000 rows for it each time the keys are checked cost ~2 ms."""
        self.structure_changed = False
        self.summary_dirty = True
        self.warm: WarmedUp | None = None
        """What the spare worker that became the last run had imported while it waited, and
        the memory that cost: the status line's detail shows it."""
        self.parallel = parallel
        """How many steps run at once and where (`jobs 4`, `dask tcp://...`); empty: one at
        a time, in the run's process. Fixed by what the app was started with."""

    # -- folding events ----------------------------------------------------------------------

    def apply(self, message: object, now: float) -> None:
        """Fold one engine event or runner message into the model; `now` stamps step starts.

        One handler per message type (`_APPLY`); messages the model has no use for (which
        pipelines a file holds, say) are ignored: the app handles those itself.
        """
        handler = _APPLY.get(type(message))
        if handler is not None:
            handler(self, message, now)

    def warmed(self, message: WarmedUp) -> None:
        self.warm = message
        self.summary_dirty = True

    def cancelled(self, message: RunCancelled) -> None:
        if message.reason == "stopped":
            self.stop()
        else:
            self.interrupted(None, reason=f"cancelled: {message.reason}")

    def start(self, event: RunStarted) -> None:
        shape = [(s.name, s.upstream, s.cache) for s in event.steps]
        self.structure_changed = self.structure_changed or shape != self._shape
        self._shape = shape  # kept, not rebuilt from the rows: 10,000 tuples a start
        self.started_steps.clear()
        self.pipeline = event.pipeline
        self.run_id = event.run_id
        self.source_file = event.source_file
        self.cache_dir = event.cache_dir
        self.run_number += 1
        self.running = True
        self.stopped = False
        self.finished = None
        self.problem = None
        self.warnings = []
        self.shared_offline = False
        self.child_output.clear()
        self.rows = {
            info.name: StepRow(info, expected=self.expected.get(info.name)) for info in event.steps
        }
        self.failed.clear()
        self.dirty.update(self.rows)
        self.summary_dirty = True

    def step_started(self, event: StepStarted, now: float) -> None:
        row = self.rows.get(event.step)
        if row is None:
            return
        row.status = StepStatus.RUNNING
        row.reason = event.reason
        row.reason_kind = event.reason_kind
        row.started_at = now
        self.started_steps.add(row.name)
        self._touch(row.name)

    def step_logs(self, events: Iterable[StepLog]) -> None:
        """Many log events at once: each step's consecutive lines join into one chunk, so a
        frame's thousands of lines cost a join per step, not a tail update per line."""
        step: str | None = None
        texts: list[str] = []
        for event in events:
            if event.step != step:
                self._add_logs(step, texts)
                step, texts = event.step, []
            texts.append(event.text)
        self._add_logs(step, texts)

    def _add_logs(self, step: str | None, texts: list[str]) -> None:
        row = self.rows.get(step) if step is not None and texts else None
        if row is not None:
            row.add_log(texts[0] if len(texts) == 1 else "".join(texts))
            self._touch(row.name)

    def step_log(self, event: StepLog) -> None:
        row = self.rows.get(event.step)
        if row is not None:
            row.add_log(event.text)
            self._touch(row.name)

    def step_finished(self, event: StepFinished) -> None:
        row = self.rows.get(event.step)
        if row is None:
            return
        row.status = event.status
        row.reason = event.reason + (f" from the {event.tier} cache" if event.tier else "")
        if event.written_by:
            row.reason += f" (written by {event.written_by})"
        row.reason_kind = event.reason_kind
        row.cached = event.cached
        row.tier = event.tier
        row.duration = event.duration_seconds
        row.saved = event.saved_seconds
        row.changed = tuple(event.changed)
        row.diff = event.diff
        row.error = event.error
        row.previews = dict(event.output_previews)
        row.sizes = dict(event.output_sizes)
        row.warnings = tuple(event.warnings)
        row.key = event.key
        row.calls = tuple(event.calls)
        row.reads = tuple(event.reads)
        self.read_paths.update(watched_path(read) for read in event.reads)
        for call in event.calls:
            self.call_places.setdefault(row.name, set()).update(call.places)
        points = self.history.setdefault(row.name, deque(maxlen=HISTORY_LENGTH))
        points.append(HistoryPoint(self.run_number, event.status, event.duration_seconds))
        self._touch(row.name)

    def set_expected(self, expected: dict[str, float]) -> None:
        """Durations read from the records arrived: running rows show what is left."""
        self.expected = dict(expected)
        for row in self.rows.values():
            row.expected = self.expected.get(row.name)
            self._touch(row.name)

    def warning(self, event: RunWarning) -> None:
        if event.code == "shared_offline":  # the status line says so for this run
            self.shared_offline = True
        text = f"{event.step}: {event.message}" if event.step else event.message
        self.warnings.append(text)
        key = (event.step, event.message)
        entry = self.warning_log.get(key)
        if entry is None:
            self.warning_log[key] = WarningEntry(
                event.step, event.message, self.run_number, self.run_number
            )
        else:
            entry.count += 1
            entry.last_run = self.run_number
        self.summary_dirty = True

    def is_new_warning(self, event: RunWarning) -> bool:
        """Seen for the first time in this session: worth a toast; a repeat is not."""
        entry = self.warning_log.get((event.step, event.message))
        return entry is not None and entry.count == 1

    def finish(self, event: RunFinished) -> None:
        self.finished = event
        self.running = False
        for name, flag in event.cache_flags.items():
            row = self.rows.get(name)
            if row is not None:
                row.cache_flag = flag
                self._touch(name)
        if event.error and not any(r.status == StepStatus.FAILED for r in self.rows.values()):
            self.problem = Problem(
                "Run failed", None, event.error.strip().splitlines()[-1], event.error
            )
        self.summary_dirty = True

    def output(self, output: ChildOutput) -> None:
        self.child_output.append(output.text)
        while sum(map(len, self.child_output)) > CHILD_OUTPUT_LIMIT and len(self.child_output) > 1:
            self.child_output.pop(0)

    def load_failed(self, failed: LoadFailed) -> None:
        told = explain_load_failure(failed)
        below = (
            "The last good run stays below; save the file to try again."
            if self.finished is not None
            else ("The last run stays below; save the file to try again." if self.rows else None)
        )
        problem = Problem(
            told.title,
            where(told.file, told.line),
            told.message,
            told.frames,
            hint=told.hint,
            below=below,
        )
        self.interrupted(problem, reason="not run: the file did not load")

    def child_exited(self, exited: ChildExited) -> None:
        """The child died mid-run: the step it was in (when known) failed with its last words."""
        location = where(exited.file, exited.line) if exited.file else None
        title = (
            f"The pipeline process died ({exited.signal})"
            if exited.signal
            else f"The pipeline process exited (code {exited.returncode})"
        )
        detail = exited.stderr_tail or "".join(self.child_output)
        problem = Problem(title, location, exited.message, detail)
        self.interrupted(problem, reason=f"process exited: {exited.message}")
        row = self.rows.get(exited.step) if exited.step else None
        if row is not None:
            row.status, row.reason = StepStatus.FAILED, exited.message
            row.error = row.error or exited.stderr_tail or None
            self._touch(row.name)

    def stop(self) -> None:
        """The user stopped the run: steps still running did not finish and are not cached."""
        self.interrupted(None, reason="stopped before it finished")
        self.stopped = True

    def interrupted(self, problem: Problem | None, *, reason: str) -> None:
        """The child stopped before RunFinished: steps it was running did not finish."""
        was_running = self.running
        self.running = False
        if problem is not None:
            self.problem = problem
        if was_running:
            for row in self.rows.values():
                if row.status == StepStatus.RUNNING:
                    row.status = StepStatus.FAILED if problem else StepStatus.PENDING
                    row.reason = reason
                    row.started_at = None
                    self._touch(row.name)
                elif row.status == StepStatus.PENDING and problem is not None:
                    # The process is gone (os._exit, a signal): nothing after it will run.
                    row.status = StepStatus.SKIPPED
                    row.reason = "not run: the pipeline process ended first"
                    self._touch(row.name)
        self.summary_dirty = True

    def cache_cleared(self) -> None:
        """The cache was emptied (`c`): a row showing a reusable result would be a lie, so
        every finished step reads as waiting for the next run, with why."""
        for row in self.rows.values():
            if row.status in (StepStatus.CACHED, StepStatus.EXECUTED, StepStatus.PINNED):
                row.status = StepStatus.PENDING
                row.reason = CLEARED_REASON
                row.reason_kind = ""
                row.cached, row.saved, row.key, row.tier = False, 0.0, None, None
                self._touch(row.name)

    def _touch(self, name: str) -> None:
        """Row `name` changed: redraw it, and keep `failed` up to date."""
        self.dirty.add(name)
        row = self.rows.get(name)
        if row is not None and row.status == StepStatus.FAILED:
            self.failed.add(name)
        else:
            self.failed.discard(name)
        self.summary_dirty = True

    # -- questions the widgets ask ------------------------------------------------------------

    def totals(self) -> RunTotals:
        """The status line's numbers, counted as the CLI, records and reports count them."""
        return run_totals(self.rows.values())

    def shared_hits(self) -> int:
        """Steps of this run served by the team's shared cache (the status line shows it)."""
        return sum(row.tier == "shared" for row in self.rows.values())

    def hit_rate(self) -> float | None:
        return self.totals().hit_rate

    def saved_seconds(self) -> float:
        return self.totals().saved_seconds

    def downstream(self, name: str) -> list[str]:
        """`name` and every step that reads, directly or not, what it produces (topological)."""
        children: dict[str, list[str]] = {n: [] for n in self.rows}
        for row in self.rows.values():
            for parent in row.info.upstream:
                children.setdefault(parent, []).append(row.name)
        seen = {name}
        stack = [name]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return [n for n in self.rows if n in seen]

    def depths(self) -> dict[str, int]:
        """Longest distance from a root, the layer a step is drawn in."""
        depth: dict[str, int] = {}
        for row in self.rows.values():  # rows are in topological order
            ups = [depth.get(u, 0) for u in row.info.upstream if u in depth]
            depth[row.name] = (max(ups) + 1) if ups else 0
        return depth

    def log_file(self, name: str) -> Path | None:
        """The whole output of step `name` in this run, if the run wrote it to disk."""
        from flowyml_tui.engine.call.log_files import LOGS_DIRNAME, log_file_name
        from flowyml_tui.engine.history.records import runs_dir

        if not (self.cache_dir and self.run_id):
            return None
        path = runs_dir(self.cache_dir) / self.run_id / LOGS_DIRNAME / log_file_name(name)
        return path if path.is_file() else None

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty


def where(file: str, line: int | None) -> str:
    """file:line as the user would type it: relative to where they started us, if inside."""
    path = Path(file)
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        shown = file
    return f"{shown}:{line}" if line else shown


def describe_runner(runner_args: Sequence[str]) -> str:
    """`jobs 4` or `dask ADDRESS` from the worker's runner arguments (`--jobs N`,
    `--dask ADDRESS`); "" for the default, one step at a time in the run's process."""
    jobs, dask = 1, None
    args = list(runner_args)
    for index, arg in enumerate(args):
        name, _, inline = arg.partition("=")
        value = inline or (args[index + 1] if index + 1 < len(args) else "")
        if name in ("--jobs", "-j") and value.isdigit():
            jobs = int(value)
        elif name == "--dask" and value:
            dask = value
    if dask:
        return f"dask {dask}"
    return f"jobs {jobs}" if jobs > 1 else ""


def watched_path(read: Read) -> str:
    """What to watch for a read: the path itself, or a declared pattern's folder."""
    if read.kind != "glob":
        return read.path
    folder = read.path
    while any(c in folder for c in "*?["):
        folder = os.path.dirname(folder)
    return folder or "."


_APPLY: dict[type, Callable[[RunModel, Any, float], None]] = {
    StepLogs: lambda model, m, now: model.step_logs(m.events),  # a chatty step's lines
    StepFinished: lambda model, m, now: model.step_finished(m),
    StepStarted: lambda model, m, now: model.step_started(m, now),
    StepLog: lambda model, m, now: model.step_log(m),
    RunStarted: lambda model, m, now: model.start(m),
    RunFinished: lambda model, m, now: model.finish(m),
    RunWarning: lambda model, m, now: model.warning(m),
    ChildOutput: lambda model, m, now: model.output(m),
    LoadFailed: lambda model, m, now: model.load_failed(m),
    ChildExited: lambda model, m, now: model.child_exited(m),
    RunCancelled: lambda model, m, now: model.cancelled(m),
    WarmedUp: lambda model, m, now: model.warmed(m),
}
"""What each message the worker sends does to the model: the TUI's one dispatch table."""
