"""Run records: one JSON file per run in `<cache_dir>/runs/`, for review and for tools.

The recorder sits on the event stream of a run. It streams each step's output to a log file
(`call/log_files.py`), keeps the rest in memory and, on `RunFinished`, builds and writes the record
before it returns: when `run()` returns, the record is on disk and
no thread of ours is still writing into the cache dir (a background writer raced anyone who
removed the dir, a temp dir say). It never raises: a full disk must not turn a good run into a
failure, so a record that cannot be written is a `RunRecordWarning`.
The record's shape is documented in `run_record.schema.json` beside this module.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ..cache.private import check_private_path, ensure_cache_dir, ensure_private_dir
from ..call.log_files import LogFiles
from ..errors import FlowymlError
from ..events import (
    CallStats,
    Event,
    RunFinished,
    RunStarted,
    RunWarning,
    StepFinished,
    StepInfo,
    StepLog,
    StepStarted,
    StepStatus,
)
from ..reads.model import Read
from . import retention
from .breakeven import CacheCost
from .record_shape import checked_record
from .replay_lines import KeptLines, ReplayLines
from .savings import NOTHING, Rate, Savings, step_savings, total
from .totals import run_totals

SCHEMA_VERSION = 1
RUNS_DIRNAME = "runs"
LOG_EXCERPT_LINES = 200
"""Lines of output kept per step: enough for a traceback and context, small enough to read."""
MAX_LINE_CHARS = 2000
"""A single line longer than this (a progress bar without newlines, say) is cut."""
SCHEMA_PATH = Path(__file__).with_name("run_record.schema.json")

_RUN_ID_OK = r"[A-Za-z0-9][A-Za-z0-9._-]*"
"""What a run id looks like (matched whole when used: compiling at import costs start-up)."""


class RunRecordError(FlowymlError):
    """A run record cannot be found or read."""


class NoRunsError(RunRecordError):
    """The cache directory holds no run record yet."""


class UnknownRunError(RunRecordError):
    """A run id that matches no record."""


class RunRecordWarning(UserWarning):
    """A record could not be written or a stored record could not be read; the run goes on."""


class RunSummary(msgspec.Struct, frozen=True):
    """One line of `flowyml-tui runs`: enough to choose a run without loading its steps."""

    run_id: str
    pipeline: str
    status: str
    started_at: float
    finished_at: float
    duration_seconds: float
    executed: int
    cached: int
    failed: int
    skipped: int
    hit_rate: float | None
    saved_seconds: float
    source_file: str | None
    path: Path
    context: dict[str, str] = {}
    """The context values in force (short texts); empty in records from before they were kept."""


def runs_dir(cache_dir: Path | str) -> Path:
    """Where the records of a cache dir live."""
    return Path(cache_dir) / RUNS_DIRNAME


def runs_folder(cache_dir: Path | str) -> str:
    """`runs_dir` as a string: what each record's write goes by."""
    return os.path.join(os.fspath(cache_dir), RUNS_DIRNAME)


def safe_run_id(run_id: str) -> str:
    """A run id usable as a file name: anything else is replaced, so no id escapes runs/."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", run_id or "run").lstrip(".") or "run"
    return cleaned


class LogExcerpt(msgspec.Struct, frozen=True, gc=False):
    """The tail of a step's output as a record keeps it."""

    lines: tuple[str, ...] = ()
    total_lines: int = 0
    truncated: bool = False
    file: str | None = None
    """The step's whole output, relative to the cache dir (`runs/<run_id>/logs/<step>.log`)."""


_NO_LOG = LogExcerpt()


class _StepLog:
    """The tail of one step's output, kept line by line so memory stays bounded."""

    __slots__ = ("lines", "partial", "total")

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=LOG_EXCERPT_LINES)
        self.partial: dict[str, str] = {}
        self.total = 0

    def add(self, stream: str, text: str) -> None:
        pending = self.partial.get(stream, "") + text
        parts = pending.split("\n")
        rest = parts.pop()
        for line in parts:
            self._push(line)
        self.partial[stream] = rest[-MAX_LINE_CHARS:] if len(rest) > MAX_LINE_CHARS else rest

    def _push(self, line: str) -> None:
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …"
        self.lines.append(line)
        self.total += 1

    def finish(self, file: str | None = None) -> LogExcerpt:
        for stream in sorted(self.partial):
            if self.partial[stream]:
                self._push(self.partial[stream])
        self.partial.clear()
        return LogExcerpt(tuple(self.lines), self.total, self.total > len(self.lines), file)


# The record's shape as Structs: msgspec builds and encodes these several times faster than
# dicts through `json`, and the record is built while the caller of `run()` waits. Field order
# is the order in the file; `run_record.schema.json` documents the fields.
class StepRecord(msgspec.Struct, frozen=True, gc=False):
    """One step of a run record."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    upstream: tuple[str, ...]
    source_file: str | None
    source_line: int | None
    started_at: float | None
    offset_seconds: float | None
    log: LogExcerpt
    warnings: tuple[str, ...]
    status: str
    reason: str
    reason_kind: str
    cached: bool
    duration_seconds: float
    saved_seconds: float
    cache: str
    key: str | None
    code_hash: str | None
    changed: tuple[str, ...]
    diff: str | None
    error: str | None
    input_fingerprints: dict[str, str]
    output_fingerprints: dict[str, str]
    output_sizes: dict[str, int]
    output_previews: dict[str, str]
    tier: str | None = None
    """"shared" for a hit from the team's shared cache."""
    calls: tuple[CallStats, ...] = ()
    """The call caches its function used: hits, misses, seconds saved (issue 12)."""
    reads: tuple[Read, ...] = ()
    """The files, folders and databases its result depends on, with their digests."""
    savings: Savings = NOTHING
    """What the caches saved and what it spent (`savings.py`): the ledger's line (issue 28)."""


class RunTotals(msgspec.Struct, frozen=True, gc=False):
    steps: int
    executed: int
    cached: int
    pinned: int
    failed: int
    skipped: int
    hit_rate: float | None
    saved_seconds: float
    """Whole-step hits and the call caches inside steps together; the calls' part below."""
    call_saved_seconds: float = 0.0


class WarningRecord(msgspec.Struct, frozen=True, gc=False):
    message: str
    step: str | None


class RunRecord(msgspec.Struct, frozen=True, gc=False):
    """A whole run record, as written to `runs/<run_id>.json`."""

    schema_version: int
    run_id: str
    pipeline: str
    source_file: str | None
    cache_dir: str | None
    status: str
    started_at: float
    finished_at: float
    duration_seconds: float
    error: str | None
    totals: RunTotals
    steps: list[StepRecord]
    warnings: list[WarningRecord]
    recorded_at: float
    shared_hits: int = 0
    """Cached steps whose entry came from the team's shared cache (Redis)."""
    context: dict[str, str] = {}
    """The context values in force, as short texts (`describe/context_text.py`)."""
    savings: Savings = NOTHING
    """The steps' savings added up."""
    cost_per_hour: float | None = None
    """The rate the money was reckoned at; None: no rate, money from `cost_fn`s only."""
    currency: str | None = None
    step_rates: dict[str, float] = {}
    """The steps priced at another rate than the run's (`rates.py`): step -> cost per hour."""
    cache_check_s: float = 0.0
    """What asking the cache took a step this run (the mean over its hits)."""
    cache_costs: dict[str, CacheCost] = {}
    """Steps whose cached values were loaded or stored this run, and what that took. Kept
    per run, not per step record: a fully cached run encodes nothing more per step."""
    cache_flags: dict[str, str] = {}
    """Steps whose cache costs more than recomputing them (measured history): why."""


_ENCODER = msgspec.json.Encoder()
_NO_STEPS = msgspec.Raw(b"[]")
_STEPS_FIELD = b',"steps":[]'
"""Where a replay's step lines go: the fields before it are strings, numbers and `totals`,
and an encoded string never holds an unescaped quote, so this is the field itself."""
_EMPTY: dict[str, Any] = {}
_NOT_RUN = "the run ended before this step"
_NO_SHAPE = StepInfo("", (), (), (), "")
"""The shape of a step the run's start did not list (no inputs, no source)."""


def encode_record(record: RunRecord | dict[str, Any]) -> bytes:
    """The record as UTF-8 JSON."""
    try:
        return _ENCODER.encode(record)
    except UnicodeEncodeError:  # a lone surrogate in a step's output: json escapes it
        return json.dumps(msgspec.to_builtins(record), separators=(",", ":")).encode()


_BUFFERS = threading.local()
_KEPT_BUFFER_BYTES = 8 << 20
"""A record buffer this big or smaller is kept for the thread's next run (see below)."""


def _encode_reusing_buffer(record: RunRecord) -> bytes | bytearray:
    """`encode_record` into this thread's buffer, valid until its next call.

    A 1000-step record is ~0.8 MB: a fresh buffer is regrown, and copied, several times on
    the way there on every run (~0.3 ms here), while the kept one is already that size.
    """
    buffer = getattr(_BUFFERS, "buffer", None)
    if buffer is None:
        buffer = bytearray()
    _BUFFERS.buffer = None  # a record that fails half-way leaves nothing reused
    try:
        _ENCODER.encode_into(record, buffer)
    except UnicodeEncodeError:
        return encode_record(record)
    if len(buffer) <= _KEPT_BUFFER_BYTES:
        _BUFFERS.buffer = buffer
    return buffer


def decode_record(data: bytes) -> Any:
    """JSON bytes -> Python objects; raises ValueError if they are not JSON."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:  # msgspec refuses escaped lone surrogates; json takes them
        return json.loads(data)


class _RunEvents(msgspec.Struct, frozen=True):
    """One run's events as the recorder kept them."""

    started: RunStarted | None
    step_started: dict[str, float]
    finished: dict[str, StepFinished]
    logs: dict[str, _StepLog]
    warnings: list[RunWarning]
    files: LogFiles | None = None


class RunRecorder:
    """Turns one run's events into a record on disk: `pipeline.run(on_event=RunRecorder(dir))`.

    Calls are cheap (events are kept in memory) and never raise. Once `RunFinished` has been
    handled, `path` is the written file, or `error` says why there is none (also sent as a
    `RunRecordWarning`), and `record` is the record as a dict (decoded when first asked for).
    One recorder can follow several runs in turn.
    """

    def __init__(
        self,
        cache_dir: Path | str,
        *,
        keep: int = 50,
        rate: Rate | None = None,
        step_rates: Mapping[str, Rate] | None = None,
        lines: ReplayLines | None = None,
    ) -> None:
        """`rate`: what an hour of compute costs, for the savings ledger's money; `step_rates`:
        the steps whose rate differs (`rates.py`); `lines`: where the step lines of a run are
        kept for the runs that replay it (a pipeline's, across its runs)."""
        self.cache_dir = cache_dir if isinstance(cache_dir, Path) else Path(cache_dir)
        self.rate = rate
        self.step_rates = dict(step_rates or {})
        self.keep = max(1, int(keep))
        self._lines = lines
        self._path: str | None = None
        self._error: str | None = None
        self._built: RunRecord | None = None
        self._written: list[bytes | memoryview] | None = None
        self._record: dict[str, Any] | None = None
        self._reset(None)

    @property
    def path(self) -> Path | None:
        return Path(self._path) if self._path is not None else None

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def record(self) -> dict[str, Any] | None:
        if self._record is None and self._built is not None:
            self._record = decode_record(encode_record(self._built))
        elif self._record is None and self._written is not None:
            self._record = decode_record(b"".join(self._written))
        return self._record

    def _reset(self, started: RunStarted | None) -> None:
        files = getattr(self, "_files", None)
        if files is not None:  # a run that never finished: its files are closed, kept
            files.close_all()
        self._started = started
        self._step_started: dict[str, float] = {}
        self._finished: dict[str, StepFinished] = {}
        self._logs: dict[str, _StepLog] = {}
        self._warnings: list[RunWarning] = []
        self._files: LogFiles | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepFinished) and self._files is None:  # each step of a hit
            self._finished[event.step] = event
            return
        try:
            self._handle(event)
        except Exception as exc:  # a record must never break a run
            self._fail(
                f"run record for {getattr(event, 'run_id', '?')} not written: {_describe(exc)}"
            )

    def _handle(self, event: Event) -> None:
        if isinstance(event, StepFinished):  # the common case first: this is per step
            self._finished[event.step] = event
            if self._files is not None:
                self._files.close(event.step)
        elif isinstance(event, StepLog):
            log = self._logs.get(event.step)
            if log is None:
                log = self._logs[event.step] = _StepLog()
            log.add(event.stream, event.text)
            if self._files is None:
                run_dir = runs_dir(self.cache_dir) / safe_run_id(event.run_id)
                self._files = LogFiles(run_dir, self.cache_dir)
            self._files.write(event.step, event.text)
        elif isinstance(event, StepStarted):
            self._step_started[event.step] = event.started_at
        elif isinstance(event, RunStarted):
            self._reset(event)
            self._path = None
            self._error = None
            self._built = None
            self._written = None
            self._record = None
        elif isinstance(event, RunWarning):
            self._warnings.append(event)
        elif isinstance(event, RunFinished):
            if self._files is not None:
                self._files.close_all()
                if self._files.error is not None:  # the record itself may still be written
                    warnings.warn(self._files.error, RunRecordWarning, stacklevel=3)
            state = _RunEvents(
                self._started,
                self._step_started,
                self._finished,
                self._logs,
                self._warnings,
                self._files,
            )
            self._reset(None)
            self._complete(event, state)

    def _complete(self, finished: RunFinished, state: _RunEvents) -> None:
        try:
            self._written = self._replayed(finished, state)
            if self._written is not None:
                self._path = _write_parts(self.cache_dir, finished.run_id, self._written)
            else:
                self._built, kept = self._build(finished, state)
                encoded = _encode_reusing_buffer(self._built)
                if kept is not None and self._lines is not None:
                    self._lines.kept = kept
                    if encoded is _BUFFERS.buffer:  # given away: the kept lines are cut from it
                        _BUFFERS.buffer = None
                    kept.adopt_record(encoded)
                self._path = _write_parts(self.cache_dir, finished.run_id, [encoded])
            if self._path is not None:
                retention.after_write(
                    runs_folder(self.cache_dir),
                    f"{safe_run_id(finished.run_id)}.json",
                    self.keep,
                    with_folder=state.files is not None,
                )
        except Exception as exc:  # a record must never break a run
            self._fail(f"run record for {finished.run_id} not written: {_describe(exc)}")

    def _fail(self, message: str) -> None:
        self._error = message
        warnings.warn(message, RunRecordWarning, stacklevel=3)

    def _build(
        self, finished: RunFinished, state: _RunEvents
    ) -> tuple[RunRecord, KeptLines | None]:
        """The record of the run that `finished` ends, from that run's events, and its lines
        kept for the runs that replay it when every one follows from its step's event."""
        started = state.started
        infos = {info.name: info for info in (started.steps if started else ())}
        order = list(infos) + [name for name in state.finished if name not in infos]
        order += [name for name in state.logs if name not in infos and name not in order]
        step_warnings: dict[str, list[str]] = {}
        for warning in state.warnings:
            if warning.step is not None:
                step_warnings.setdefault(warning.step, []).append(warning.message)
        run_start = started.started_at if started else finished.started_at
        steps: list[StepRecord] = []
        cursor = run_start
        finished_steps = state.finished
        run_rate, step_rates = self.rate, self.step_rates
        # Steps that only finished (every hit): no start, output or warning to merge in.
        busy = state.step_started.keys() | state.logs.keys() | step_warnings.keys()
        plain = started is not None and not state.warnings
        for name in order:
            info, done = infos.get(name), finished_steps.get(name)
            if done is None or info is None or done.warnings or name in busy:
                rate = step_rates.get(name, run_rate) if step_rates else run_rate
                step = _step_record(state, name, info, run_start, cursor, step_warnings, rate)
                if step.started_at is not None:
                    cursor = max(cursor, step.started_at + step.duration_seconds)
                plain = False
            else:  # placed where the run had got to
                rate = step_rates.get(name, run_rate) if step_rates else run_rate
                step = _finished_record(info, done, cursor, cursor - run_start, rate=rate)
                cursor += done.duration_seconds
            steps.append(step)
        derived = (
            _totals(steps, finished),
            sum(step.tier == "shared" for step in steps),
            total(step.savings for step in steps),
        )
        kept = None
        if plain and self._lines is not None and started is not None:
            kept = KeptLines(
                run_id=finished.replay_of or finished.run_id,
                infos=started.steps,
                rate=run_rate,
                step_rates=step_rates,
                steps=steps,
                derived=derived,
            )
        return self._record_of(finished, state, steps, derived), kept

    def _replayed(
        self, finished: RunFinished, state: _RunEvents
    ) -> list[bytes | memoryview] | None:
        """The record of a run that replayed one whose lines are kept, as pieces to write:
        its own run-wide fields around the kept lines (`replay_lines.py`); None otherwise."""
        kept = self._lines.kept if self._lines is not None else None
        started = state.started
        if (
            kept is None
            or started is None
            or finished.replay_of is None
            or state.warnings
            or state.logs
            or state.step_started
            or len(state.finished) != len(kept.steps)
            or not kept.matches(finished.replay_of, started.steps, self.rate, self.step_rates)
        ):
            return None
        record = self._record_of(finished, state, _NO_STEPS, kept.derived)
        encoded = _ENCODER.encode(record)
        cut = encoded.index(_STEPS_FIELD) + len(_STEPS_FIELD) - 2
        return [encoded[:cut], *kept.steps_json(record.started_at), encoded[cut + 2 :]]

    def _record_of(
        self,
        finished: RunFinished,
        state: _RunEvents,
        steps: Any,
        derived: tuple[RunTotals, int, Savings],
    ) -> RunRecord:
        """The record around its step lines; `derived`: its totals, shared hits and savings,
        which follow from the lines alone."""
        started = state.started
        run_start = started.started_at if started else finished.started_at
        totals, shared_hits, savings = derived
        step_rates = self.step_rates
        return RunRecord(
            schema_version=SCHEMA_VERSION,
            run_id=finished.run_id,
            pipeline=finished.pipeline or (started.pipeline if started else ""),
            source_file=started.source_file if started else None,
            cache_dir=(started.cache_dir if started else None) or str(self.cache_dir),
            status=finished.status,
            started_at=run_start,
            finished_at=finished.finished_at,
            duration_seconds=finished.duration_seconds,
            error=finished.error,
            totals=totals,
            steps=steps,
            warnings=[WarningRecord(w.message, w.step) for w in state.warnings],
            recorded_at=time.time(),
            shared_hits=shared_hits,
            context=started.context if started else {},
            savings=savings,
            cost_per_hour=self.rate.cost_per_hour if self.rate else None,
            currency=self._currency(),
            step_rates={name: rate.cost_per_hour for name, rate in step_rates.items()},
            cache_check_s=finished.cache_check_s,
            cache_costs=finished.cache_costs,
            cache_flags=finished.cache_flags,
        )

    def _currency(self) -> str | None:
        """The run's currency: its rate's, else a step's own rate's; None when nothing is priced."""
        if self.rate is not None:
            return self.rate.currency
        return next((rate.currency for rate in self.step_rates.values()), None)


def _step_record(
    state: _RunEvents,
    name: str,
    info: StepInfo | None,
    run_start: float,
    cursor: float,
    step_warnings: dict[str, list[str]],
    rate: Rate | None,
) -> StepRecord:
    done = state.finished.get(name)
    if name in state.logs:
        log = state.logs[name].finish(state.files.relative_path(name) if state.files else None)
    else:
        log = _NO_LOG
    own_warnings: tuple[str, ...] = done.warnings if done is not None else ()
    extra = step_warnings.get(name)
    if extra:
        own_warnings = tuple(dict.fromkeys((*own_warnings, *extra)))
    elif len(own_warnings) > 1:
        own_warnings = tuple(dict.fromkeys(own_warnings))
    started_at = state.step_started.get(name)
    if done is not None and started_at is None:
        started_at = cursor  # not executed (cached, skipped): placed after what came before
    offset = None if started_at is None else max(0.0, started_at - run_start)
    if done is None:
        shape = info or _NO_SHAPE
        return StepRecord(
            name, shape.inputs, shape.outputs, shape.upstream, shape.source_file,
            shape.source_line, started_at, offset, log, own_warnings, StepStatus.SKIPPED.value,
            _NOT_RUN, "skipped", False, 0.0, 0.0, info.cache if info else "", None, None, (),
            None, None, _EMPTY, _EMPTY, _EMPTY, _EMPTY,
        )  # fmt: skip
    return _finished_record(info or _NO_SHAPE, done, started_at, offset, log, own_warnings, rate)


def _finished_record(
    shape: StepInfo,
    done: StepFinished,
    started_at: float | None,
    offset: float | None,
    log: LogExcerpt = _NO_LOG,
    warnings: tuple[str, ...] = (),
    rate: Rate | None = None,
) -> StepRecord:
    """`rate`: what an hour of compute costs, for the step's line of the savings ledger."""
    return StepRecord(
        done.step, shape.inputs, shape.outputs, shape.upstream, shape.source_file,
        shape.source_line, started_at, offset, log, warnings, done.status, done.reason,
        done.reason_kind, done.cached, done.duration_seconds, done.saved_seconds, done.cache,
        done.key, done.code_hash, done.changed, done.diff, done.error, done.input_fingerprints,
        done.output_fingerprints, done.output_sizes, done.output_previews, done.tier, done.calls,
        done.reads, step_savings(done, rate),
    )  # fmt: skip


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    return f"{type(exc).__name__}: {exc}"


def _totals(steps: list[StepRecord], finished: RunFinished) -> RunTotals:
    counted = run_totals(steps)
    return RunTotals(
        steps=counted.steps,
        executed=counted.executed,
        cached=counted.cached,
        pinned=counted.pinned,
        failed=counted.failed,
        skipped=counted.skipped,
        hit_rate=counted.hit_rate,  # the one definition: engine/history/totals.py
        saved_seconds=counted.saved_seconds,
        call_saved_seconds=counted.call_saved_seconds,
    )


def write_record(cache_dir: Path | str, record: RunRecord | dict[str, Any]) -> Path:
    """Write a record atomically (temp file + rename), so a reader never sees half a record."""
    run_id = record.run_id if isinstance(record, RunRecord) else record["run_id"]
    return write_record_bytes(cache_dir, run_id, encode_record(record))


def write_record_bytes(cache_dir: Path | str, run_id: str, encoded: bytes | bytearray) -> Path:
    """Write an encoded record atomically (temp file + rename): no reader sees half of one."""
    return Path(_write_parts(cache_dir, run_id, [encoded]))


_IOV_MAX = 1024
"""Buffers per `os.writev` (Linux's IOV_MAX)."""


def _write_parts(
    cache_dir: Path | str, run_id: str, parts: Sequence[bytes | bytearray | memoryview]
) -> str:
    """Write a record given as pieces, one after another, atomically (temp file + rename),
    and return its path. By plain string paths: each `pathlib` step costs microseconds, and
    a replayed run writes a record every time."""
    cache = os.fspath(cache_dir)
    directory = runs_folder(cache)
    ensure_cache_dir(cache)  # never a project root, nor a dir others can write
    ensure_private_dir(directory, "run records dir")
    name = f"{safe_run_id(run_id)}.json"
    target = os.path.join(directory, name)
    fd, temp = _create_temp(directory, name[: -len(".json")])
    try:
        try:
            _write_all(fd, parts)
        finally:
            os.close(fd)
        retention.forget_time(directory, name)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return target


_temps = itertools.count()


def _create_temp(directory: str, stem: str) -> tuple[int, str]:
    """A new private file `.<stem>.<pid>-<n>.tmp` beside the record, opened for writing:
    named by this process and a counter (`tempfile.mkstemp` draws random names, a tenth of a
    record's write), with a random name only if that one exists."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    temp = f"{directory}{os.sep}.{stem}.{os.getpid()}-{next(_temps)}.tmp"
    try:
        return os.open(temp, flags, 0o600), temp
    except FileExistsError:
        return tempfile.mkstemp(dir=directory, prefix=f".{stem}.", suffix=".tmp")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _write_all(fd: int, parts: Sequence[bytes | bytearray | memoryview]) -> None:
    for at in range(0, len(parts), _IOV_MAX):
        batch = parts[at : at + _IOV_MAX]
        wrote = os.writev(fd, batch)
        if wrote < sum(map(len, batch)):  # a short write: the rest, a buffer at a time
            rest = memoryview(b"".join(batch))[wrote:]
            while rest:
                rest = rest[os.write(fd, rest) :]


def prune_runs(cache_dir: Path | str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` records (by write time) and their log folders;
    returns what was removed (`retention.prune`: the whole folder listed)."""
    return retention.prune(runs_dir(cache_dir), keep)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = decode_record(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise RunRecordError(f"run record {path} cannot be read ({exc}); delete it") from exc
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        raise RunRecordError(f"run record {path} is not a run record; delete it")
    version = data.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RunRecordError(
            f"run record {path} has schema_version {version!r}; this flowyml-tui reads up to "
            f"{SCHEMA_VERSION}: upgrade flowyml-tui or delete the record"
        )
    try:
        return checked_record(data)
    except ValueError as exc:
        raise RunRecordError(f"run record {path} is malformed ({exc}); delete it") from None


def _summary(record: dict[str, Any], path: Path) -> RunSummary:
    """The summary of a record `_read` checked (every field present, of the right type)."""
    totals = record["totals"]
    return RunSummary(
        run_id=record["run_id"],
        pipeline=record["pipeline"],
        status=record["status"],
        started_at=float(record["started_at"]),
        finished_at=float(record["finished_at"]),
        duration_seconds=float(record["duration_seconds"]),
        executed=totals["executed"],
        cached=totals["cached"],
        failed=totals["failed"],
        skipped=totals["skipped"],
        hit_rate=totals["hit_rate"],
        saved_seconds=float(totals["saved_seconds"]),
        source_file=record["source_file"],
        path=path,
        context=record["context"],
    )


def _all_runs(cache_dir: Path | str) -> list[tuple[RunSummary, dict[str, Any]]]:
    directory = runs_dir(cache_dir)
    if not directory.is_dir():
        return []
    check_private_path(directory, "run records dir", is_dir=True)
    found: list[tuple[RunSummary, dict[str, Any]]] = []
    for path in sorted(directory.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = _read(path)
            found.append((_summary(record, path), record))
        except (RunRecordError, TypeError, ValueError) as exc:
            warnings.warn(f"skipped: {exc}", RunRecordWarning, stacklevel=3)
    found.sort(key=lambda item: (item[0].finished_at, item[0].run_id), reverse=True)
    return found


def list_runs(cache_dir: Path | str, limit: int | None = 20) -> list[RunSummary]:
    """The newest runs first; a record that cannot be read is skipped with a warning."""
    runs = [summary for summary, _ in _all_runs(cache_dir)]
    return runs if limit is None else runs[: max(0, limit)]


def load_runs(cache_dir: Path | str) -> list[dict[str, Any]]:
    """Every readable run record, newest first (an unreadable one is skipped with a warning)."""
    return [record for _, record in _all_runs(cache_dir)]


def load_run(cache_dir: Path | str, run_id: str = "latest") -> dict[str, Any]:
    """A run record by id, unique id prefix, or "latest" (the newest finished run)."""
    directory = runs_dir(cache_dir)
    if run_id != "latest" and not re.fullmatch(_RUN_ID_OK, run_id):
        raise UnknownRunError(
            f"{run_id!r} is not a run id (letters, digits, '.', '_' and '-' only); "
            "list the runs with `flowyml-tui runs`"
        )
    if run_id != "latest":
        exact = directory / f"{run_id}.json"
        if exact.is_file():
            check_private_path(directory, "run records dir", is_dir=True)
            return _read(exact)
    runs = _all_runs(cache_dir)
    if not runs:
        raise NoRunsError(
            f"no run records in {directory}: run a pipeline first (`flowyml-tui run FILE`), "
            "or pass --cache-dir for another cache"
        )
    if run_id == "latest":
        return runs[0][1]
    matches = [record for summary, record in runs if summary.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    ids = ", ".join(summary.run_id for summary, _ in runs[:10])
    more = f" (and {len(runs) - 10} older)" if len(runs) > 10 else ""
    if matches:
        raise UnknownRunError(f"run id {run_id!r} is ambiguous in {directory}; available: {ids}")
    raise UnknownRunError(f"no run {run_id!r} in {directory}; available: {ids}{more}")
