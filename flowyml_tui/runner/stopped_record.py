"""The record of a run the user stopped (`s`): written by the session, since the worker is gone.

The worker writes a run's record when the run finishes; a stopped worker never gets there, so
the past-run list and the duration averages would miss the run. The session saw every event
but the log lines, and builds the same record from them, with status `stopped`: the steps done
so far with their times; the one running when it stopped and those not reached are skipped,
and their reason says so.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from flowyml_tui.engine.events import (
    ReasonKind,
    RunFinished,
    RunStarted,
    RunWarning,
    StepFinished,
    StepStarted,
    StepStatus,
)
from flowyml_tui.engine.history.records import RunRecorder, RunRecordWarning

STOPPED = "stopped"
WAS_RUNNING = "stopped before it finished"
NOT_REACHED = "not run: the run was stopped first"

_KEPT = (StepStarted, StepFinished, RunWarning)


class StoppedRunRecord:
    """Follows one run's messages; `write` records it as stopped (a run without a cache dir
    has no records, and one that finished already wrote its own)."""

    def __init__(self) -> None:
        self._recorder: RunRecorder | None = None
        self._started: RunStarted | None = None
        self._running: set[str] = set()
        self._finished: set[str] = set()

    def observe(self, message: object) -> None:
        if isinstance(message, RunStarted):
            self._started = message
            self._recorder = RunRecorder(message.cache_dir) if message.cache_dir else None
            self._running.clear()
            self._finished.clear()
        elif isinstance(message, StepStarted):
            self._running.add(message.step)
        elif isinstance(message, StepFinished):
            self._finished.add(message.step)
        elif not isinstance(message, _KEPT):
            return
        if self._recorder is not None:
            self._recorder(message)

    def write(self) -> Path | None:
        """Write the record now; None when there is nothing to record or it could not be."""
        started, recorder = self._started, self._recorder
        if started is None or recorder is None:
            return None
        for info in started.steps:  # what the run did not get to, and why
            if info.name not in self._finished:
                reason = WAS_RUNNING if info.name in self._running else NOT_REACHED
                recorder(_skipped(started.run_id, info.name, info.cache, reason))
        now = time.time()
        stopped = RunFinished(
            run_id=started.run_id,
            pipeline=started.pipeline,
            status=STOPPED,
            started_at=started.started_at,
            finished_at=now,
            duration_seconds=max(0.0, now - started.started_at),
        )
        with warnings.catch_warnings():  # a record that cannot be written must not end the TUI
            warnings.simplefilter("ignore", RunRecordWarning)
            recorder(stopped)
        return recorder.path


def _skipped(run_id: str, step: str, cache: str, reason: str) -> StepFinished:
    return StepFinished(
        run_id=run_id,
        step=step,
        status=StepStatus.SKIPPED.value,
        reason=reason,
        reason_kind=ReasonKind.SKIPPED.value,
        cached=False,
        duration_seconds=0.0,
        cache=cache,
    )
