"""Which step's output capture is current in this context: read by the routed streams
(`capture`) and by the logging handler (`log_route`), which are imported apart because
`logging` costs start-up."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol


class StepCapture(Protocol):
    """What the routed streams and the logging handler ask of one step's capture
    (`capture._Capture`): each write answers False once the step has ended."""

    closed: bool

    def write(self, stream: str, text: str) -> bool: ...

    def write_bytes(self, stream: str, data: bytes) -> bool: ...

    def flush(self, stream: str) -> None: ...

    def log(self, text: str) -> bool: ...


current_capture: ContextVar[StepCapture | None] = ContextVar("flowyml_tui_capture", default=None)


def active_capture() -> StepCapture | None:
    """The current step's capture, or None outside a step (or once it is closed)."""
    capture = current_capture.get()
    return None if capture is None or capture.closed else capture
