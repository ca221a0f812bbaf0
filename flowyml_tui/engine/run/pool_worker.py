"""What one `--jobs` worker process runs: tasks read from its pipe, one at a time, each
answered on the same pipe by its captured lines and then its outcome.

One pipe each way per worker, and nothing between: no queue-feeding or result-reading thread
in the worker, and a step's lines cannot overtake its outcome, because both travel in order
on one connection. Messages to the driver start with a tag byte: `LINE` or `OUTCOME`.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from typing import Any

from ..call.log_route import keep_logging_attached
from .portable import load_task, portable_outcome
from .runner import StepOutcome, run_task, user_traceback

LINE = b"L"
"""A captured line: the pickled (stream, text) follows."""
OUTCOME = b"O"
"""The task's outcome (`portable_outcome` bytes) follows; the worker is free again."""
STOP = b""
"""From the driver: finish up and exit."""

PARENT_CHECK_SECONDS = 0.25
"""How often a worker checks that the process that started it is still alive."""


def serve(conn: Any, parent: int) -> None:
    """The worker's whole life: run each task the driver sends until told to stop (or the
    driver's end of the pipe closes)."""
    # Ctrl-C reaches the whole process group: the driver decides, and kills us if need be.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="flowyml-parent-watch", daemon=True
    ).start()
    keep_logging_attached()
    sending = threading.Lock()  # a step's own threads may log while its outcome is sent

    def send(message: bytes) -> None:
        with sending:
            conn.send_bytes(message)

    def on_log(stream: str, text: str) -> None:
        send(LINE + pickle.dumps((stream, text), pickle.HIGHEST_PROTOCOL))

    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):  # the driver is gone
            return
        if payload == STOP:
            return
        try:
            task = load_task(payload)
        except Exception as exc:  # a class or module this process cannot import
            outcome = StepOutcome("", error=exc, traceback=user_traceback(exc))
        else:
            outcome = run_task(task, on_log)
        send(OUTCOME + portable_outcome(outcome))


def _exit_with_parent(parent: int) -> None:
    """A worker whose driver died (SIGKILL, a crash) exits within a fraction of a second
    instead of running its step unwatched: orphaned, it is re-parented elsewhere.

    Polling the parent's pid rather than `PR_SET_PDEATHSIG`: that signal follows the thread
    that started the process, and a worker may be started from a thread that ends first.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(70)
