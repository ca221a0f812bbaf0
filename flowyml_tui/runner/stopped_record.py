"""The record of a run the user stopped (`s`): written by the session, since the worker is gone.

The worker writes a run's record when the run finishes; a stopped worker never gets there, so
the past-run list and the duration averages would miss the run. The session saw every event
but the log lines, and builds the same record from them, with status `stopped`: the steps done
so far with their times, the others as not run.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from flowyml_tui.engine.events import RunFinished, RunStarted, RunWarning, StepFinished, StepStarted
from flowyml_tui.engine.records import RunRecorder, RunRecordWarning

STOPPED = "stopped"

_KEPT = (StepStarted, StepFinished, RunWarning)


class StoppedRunRecord:
    """Follows one run's messages; `write` records it as stopped (a run without a cache dir
    has no records, and one that finished already wrote its own)."""

    def __init__(self) -> None:
        self._recorder: RunRecorder | None = None
        self._started: RunStarted | None = None

    def observe(self, message: object) -> None:
        if isinstance(message, RunStarted):
            self._started = message
            self._recorder = RunRecorder(message.cache_dir) if message.cache_dir else None
        elif not isinstance(message, _KEPT):
            return
        if self._recorder is not None:
            self._recorder(message)

    def write(self) -> Path | None:
        """Write the record now; None when there is nothing to record or it could not be."""
        started, recorder = self._started, self._recorder
        if started is None or recorder is None:
            return None
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
