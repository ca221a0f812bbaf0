"""The root-logger handler that sends a step's `logging` records to that step's log.

Apart from `capture` because `logging` costs start-up: it is imported when a step first
captures, not by a run whose steps are all cached.
"""

from __future__ import annotations

import logging
import threading

from .capture_scope import active_capture

_lock = threading.Lock()


class _RoutedLogHandler(logging.Handler):
    """On the root logger while any step captures; a record goes to the current step's sink."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        capture = active_capture()
        try:
            if capture is not None and capture.log(self.format(record) + "\n"):
                return
        except Exception:  # a broken log record must not fail the step
            self.handleError(record)
            return
        self._as_if_absent(record)

    def _as_if_absent(self, record: logging.LogRecord) -> None:
        """A record from outside any step: do what logging would do if this handler were not
        there (only the last-resort handler can be affected: no other handler was found)."""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self for h in logger.handlers):
                return
            logger = logger.parent if logger.propagate else None
        last = logging.lastResort
        if last is not None and record.levelno >= last.level:
            last.handle(record)


_HANDLER = _RoutedLogHandler()
_log_users = 0
_saved_level = logging.NOTSET


def attach_logging() -> None:
    """When the user has not configured logging, INFO records are captured too (the default
    WARNING level would hide the `logging.info` calls people put in steps)."""
    global _log_users, _saved_level
    with _lock:
        if _log_users == 0:
            root = logging.getLogger()
            _saved_level = root.level
            if not root.handlers and root.level > logging.INFO:
                root.setLevel(logging.INFO)
            root.addHandler(_HANDLER)
        _log_users += 1


def detach_logging() -> None:
    global _log_users
    with _lock:
        _log_users -= 1
        if _log_users == 0:
            root = logging.getLogger()
            root.removeHandler(_HANDLER)
            root.setLevel(_saved_level)


def keep_logging_attached() -> None:
    """For a process that only runs steps (a `--jobs` worker): attach once for good, so a
    step no longer sets the root level twice, each time clearing every logger's level cache.
    Outside a step the handler passes records on as if it were not there."""
    attach_logging()
