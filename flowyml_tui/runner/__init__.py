"""Runs pipeline files in worker processes and streams their events back.

Names are imported lazily so the worker (`python -m flowyml_tui.runner.worker`) starts without
loading asyncio subprocess machinery or watchfiles it does not use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "RunSession": "session",
    "watch_pipeline_files": "watch",
    "discover_pipeline_files": "watch",
    "PipelineDiscoveryError": "watch",
    "PipelinesFound": "protocol",
    "LoadFailed": "protocol",
    "ChildOutput": "protocol",
    "ChildExited": "protocol",
    "RunCancelled": "protocol",
    "decode_message": "protocol",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
