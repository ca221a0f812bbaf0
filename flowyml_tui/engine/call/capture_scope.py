"""Which step's output capture is current in this context: read by the routed streams
(`capture`) and by the logging handler (`logroute`), which are imported apart because
`logging` costs start-up."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .capture import _Capture

current_capture: ContextVar[_Capture | None] = ContextVar("flowyml_tui_capture", default=None)


def active_capture() -> _Capture | None:
    """The current step's capture, or None outside a step (or once it is closed)."""
    capture = current_capture.get()
    return None if capture is None or capture.closed else capture
