"""Run records: one JSON file per run in `<cache_dir>/runs/`, for review and for tools.

The recorder sits on the event stream of a run. It only accumulates in memory and, when the run
finishes, builds and writes the record on a background writer thread, so a run returns as soon
as its last step does; readers here wait for pending writes first. It never raises: a full disk
must not turn a good run into a failure.
The record's shape is documented in `run_record.schema.json` beside this module.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import warnings
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import FlowymlError
from .events import (
    Event,
    RunFinished,
    RunStarted,
    RunWarning,
    StepFinished,
    StepLog,
    StepStarted,
    StepStatus,
)
from .totals import totals_of_record

SCHEMA_VERSION = 1
RUNS_DIRNAME = "runs"
LOG_EXCERPT_LINES = 200
"""Lines of output kept per step: enough for a traceback and context, small enough to read."""
MAX_LINE_CHARS = 2000
"""A single line longer than this (a progress bar without newlines, say) is cut."""
SCHEMA_PATH = Path(__file__).with_name("run_record.schema.json")

_WRITER: ThreadPoolExecutor | None = None
_WRITER_LOCK = threading.Lock()
_PENDING: set[Future[None]] = set()


def _submit(work: Any, *args: Any) -> Future[None]:
    """Run `work` on the one writer thread (records land in order; exit waits for them)."""
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None:
            _WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowyml-run-record")
        future = _WRITER.submit(work, *args)
        _PENDING.add(future)
    future.add_done_callback(_PENDING.discard)
    return future


def wait_for_pending_records(timeout: float | None = 30.0) -> None:
    """Block until records still being written by this process are on disk."""
    for future in list(_PENDING):
        future.result(timeout=timeout)


_RUN_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_STALE_TEMP_SECONDS = 3600.0


class RunRecordError(FlowymlError):
    """A run record cannot be found or read."""


class NoRunsError(RunRecordError):
    """The cache directory holds no run record yet."""


class UnknownRunError(RunRecordError):
    """A run id that matches no record."""


class RunRecordWarning(UserWarning):
    """A record could not be written or a stored record could not be read; the run goes on."""


@dataclass(frozen=True, slots=True)
class RunSummary:
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


def runs_dir(cache_dir: Path | str) -> Path:
    """Where the records of a cache dir live."""
    return Path(cache_dir) / RUNS_DIRNAME


def safe_run_id(run_id: str) -> str:
    """A run id usable as a file name: anything else is replaced, so no id escapes runs/."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", run_id or "run").lstrip(".") or "run"
    return cleaned


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

    def finish(self) -> dict[str, Any]:
        for stream in sorted(self.partial):
            if self.partial[stream]:
                self._push(self.partial[stream])
        self.partial.clear()
        return {
            "lines": list(self.lines),
            "total_lines": self.total,
            "truncated": self.total > len(self.lines),
        }


@dataclass(frozen=True, slots=True)
class _RunEvents:
    """One run's events as the recorder kept them, handed whole to the writer thread."""

    started: RunStarted | None
    step_started: dict[str, float]
    finished: dict[str, StepFinished]
    logs: dict[str, _StepLog]
    warnings: list[RunWarning]


class RunRecorder:
    """Turns one run's events into a record on disk: `pipeline.run(on_event=RunRecorder(dir))`.

    Calls are cheap (events are kept in memory) and never raise. After `RunFinished`,
    `path` is the written file, or `error` says why there is none (also sent as a
    `RunRecordWarning`); both wait for the background write. One recorder can follow
    several runs in turn.
    """

    def __init__(self, cache_dir: Path | str, *, keep: int = 50) -> None:
        self.cache_dir = Path(cache_dir)
        self.keep = max(1, int(keep))
        self._path: Path | None = None
        self._error: str | None = None
        self._record: dict[str, Any] | None = None
        self._pending: Future[None] | None = None
        self._reset(None)

    def wait(self) -> None:
        """Block until the last finished run's record is written (or has failed)."""
        if self._pending is not None:
            self._pending.result()

    @property
    def path(self) -> Path | None:
        self.wait()
        return self._path

    @property
    def error(self) -> str | None:
        self.wait()
        return self._error

    @property
    def record(self) -> dict[str, Any] | None:
        self.wait()
        return self._record

    def _reset(self, started: RunStarted | None) -> None:
        self._started = started
        self._step_started: dict[str, float] = {}
        self._finished: dict[str, StepFinished] = {}
        self._logs: dict[str, _StepLog] = {}
        self._warnings: list[RunWarning] = []

    def __call__(self, event: Event) -> None:
        try:
            self._handle(event)
        except Exception as exc:  # a record must never break a run
            self._fail(
                f"run record for {getattr(event, 'run_id', '?')} not written: {_describe(exc)}"
            )

    def _handle(self, event: Event) -> None:
        if isinstance(event, StepFinished):  # the common case first: this is per step
            self._finished[event.step] = event
        elif isinstance(event, StepLog):
            self._logs.setdefault(event.step, _StepLog()).add(event.stream, event.text)
        elif isinstance(event, StepStarted):
            self._step_started[event.step] = event.started_at
        elif isinstance(event, RunStarted):
            self.wait()
            self._reset(event)
            self._path = None
            self._error = None
            self._record = None
        elif isinstance(event, RunWarning):
            self._warnings.append(event)
        elif isinstance(event, RunFinished):
            state = _RunEvents(
                self._started, self._step_started, self._finished, self._logs, self._warnings
            )
            self._reset(None)
            self._pending = _submit(self._complete, event, state)

    def _complete(self, finished: RunFinished, state: _RunEvents) -> None:
        try:
            self._record = self._build(finished, state)
            self._path = write_record(self.cache_dir, self._record)
            prune_runs(self.cache_dir, self.keep)
        except Exception as exc:  # a record must never break a run
            self._fail(f"run record for {finished.run_id} not written: {_describe(exc)}")

    def _fail(self, message: str) -> None:
        self._error = message
        warnings.warn(message, RunRecordWarning, stacklevel=3)

    def _build(self, finished: RunFinished, state: _RunEvents) -> dict[str, Any]:
        """The record of the run that `finished` ends, from that run's events."""
        started = state.started
        infos = {info.name: info for info in (started.steps if started else ())}
        order = list(infos) + [name for name in state.finished if name not in infos]
        for name in state.logs:
            if name not in order:
                order.append(name)
        run_start = started.started_at if started else finished.started_at
        steps: list[dict[str, Any]] = []
        cursor = run_start
        for name in order:
            step = self._step_record(state, name, infos.get(name), run_start, cursor)
            if step["started_at"] is not None:
                cursor = max(cursor, step["started_at"] + step["duration_seconds"])
            steps.append(step)
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": finished.run_id,
            "pipeline": finished.pipeline or (started.pipeline if started else ""),
            "source_file": started.source_file if started else None,
            "cache_dir": (started.cache_dir if started else None) or str(self.cache_dir),
            "status": finished.status,
            "started_at": run_start,
            "finished_at": finished.finished_at,
            "duration_seconds": finished.duration_seconds,
            "error": finished.error,
            "totals": _totals(steps, finished),
            "steps": steps,
            "warnings": [{"message": w.message, "step": w.step} for w in state.warnings],
            "recorded_at": time.time(),
        }

    def _step_record(
        self, state: _RunEvents, name: str, info: Any, run_start: float, cursor: float
    ) -> dict[str, Any]:
        done = state.finished.get(name)
        log = state.logs[name].finish() if name in state.logs else _StepLog().finish()
        own_warnings = list(done.warnings) if done else []
        own_warnings += [w.message for w in state.warnings if w.step == name]
        started_at = state.step_started.get(name)
        if done is not None and started_at is None:
            started_at = cursor  # not executed (cached, skipped): placed after what came before
        base: dict[str, Any] = {
            "name": name,
            "inputs": list(info.inputs) if info else [],
            "outputs": list(info.outputs) if info else [],
            "upstream": list(info.upstream) if info else [],
            "source_file": info.source_file if info else None,
            "source_line": info.source_line if info else None,
            "started_at": started_at,
            "offset_seconds": None if started_at is None else max(0.0, started_at - run_start),
            "log": log,
            "warnings": list(dict.fromkeys(own_warnings)),
        }
        if done is None:
            not_run = "the run ended before this step"
            return base | {
                "status": StepStatus.SKIPPED.value,
                "reason": not_run,
                "reason_kind": "skipped",
                "cached": False,
                "duration_seconds": 0.0,
                "saved_seconds": 0.0,
                "cache": info.cache if info else "",
                "key": None,
                "code_hash": None,
                "changed": [],
                "diff": None,
                "error": None,
                "input_fingerprints": {},
                "output_fingerprints": {},
                "output_sizes": {},
                "output_previews": {},
            }
        return base | {
            "status": done.status,
            "reason": done.reason,
            "reason_kind": done.reason_kind,
            "cached": done.cached,
            "duration_seconds": done.duration_seconds,
            "saved_seconds": done.saved_seconds,
            "cache": done.cache,
            "key": done.key,
            "code_hash": done.code_hash,
            "changed": list(done.changed),
            "diff": done.diff,
            "error": done.error,
            "input_fingerprints": dict(done.input_fingerprints),
            "output_fingerprints": dict(done.output_fingerprints),
            "output_sizes": dict(done.output_sizes),
            "output_previews": dict(done.output_previews),
        }


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    return f"{type(exc).__name__}: {exc}"


def _totals(steps: list[dict[str, Any]], finished: RunFinished) -> dict[str, Any]:
    return totals_of_record(steps).to_dict()


def write_record(cache_dir: Path | str, record: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename), so a reader never sees half a record."""
    directory = runs_dir(cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{safe_run_id(record['run_id'])}.json"
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{target.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # dumps, not dump: dump streams through the pure-Python encoder, ~10x slower
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def prune_runs(cache_dir: Path | str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` records (by write time); returns what was removed."""
    directory = runs_dir(cache_dir)
    records: list[tuple[float, str, Path]] = []
    removed: list[Path] = []
    now = time.time()
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.is_file():
                continue
            mtime = entry.stat().st_mtime
            if entry.name.endswith(".tmp") and now - mtime > _STALE_TEMP_SECONDS:
                removed.append(Path(entry.path))  # left by a writer that was killed
            elif entry.name.endswith(".json") and not entry.name.startswith("."):
                records.append((mtime, entry.name, Path(entry.path)))
    records.sort(reverse=True)
    removed += [path for _, _, path in records[max(1, keep) :]]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunRecordError(f"run record {path} cannot be read ({exc}); delete it") from exc
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        raise RunRecordError(f"run record {path} is not a run record; delete it")
    version = data.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise RunRecordError(
            f"run record {path} has schema_version {version!r}; this flowyml-tui reads up to "
            f"{SCHEMA_VERSION}: upgrade flowyml-tui or delete the record"
        )
    return data


def _summary(record: dict[str, Any], path: Path) -> RunSummary:
    totals = record.get("totals", {})
    return RunSummary(
        run_id=record["run_id"],
        pipeline=str(record.get("pipeline", "")),
        status=str(record.get("status", "")),
        started_at=float(record.get("started_at") or 0.0),
        finished_at=float(record.get("finished_at") or 0.0),
        duration_seconds=float(record.get("duration_seconds") or 0.0),
        executed=int(totals.get("executed", 0)),
        cached=int(totals.get("cached", 0)),
        failed=int(totals.get("failed", 0)),
        skipped=int(totals.get("skipped", 0)),
        hit_rate=totals.get("hit_rate"),
        saved_seconds=float(totals.get("saved_seconds") or 0.0),
        source_file=record.get("source_file"),
        path=path,
    )


def _all_runs(cache_dir: Path | str) -> list[tuple[RunSummary, dict[str, Any]]]:
    wait_for_pending_records()
    directory = runs_dir(cache_dir)
    if not directory.is_dir():
        return []
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


def load_run(cache_dir: Path | str, run_id: str = "latest") -> dict[str, Any]:
    """A run record by id, unique id prefix, or "latest" (the newest finished run)."""
    wait_for_pending_records()
    directory = runs_dir(cache_dir)
    if run_id != "latest" and not _RUN_ID_OK.match(run_id):
        raise UnknownRunError(
            f"{run_id!r} is not a run id (letters, digits, '.', '_' and '-' only); "
            "list the runs with `flowyml-tui runs`"
        )
    if run_id != "latest":
        exact = directory / f"{run_id}.json"
        if exact.is_file():
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
