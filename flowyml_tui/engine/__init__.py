"""The pipeline engine: a pure library (no Textual or Rich), usable from scripts and CI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "CacheBackend",
    "CachePrimitive",
    "CacheStore",
    "Context",
    "InMemoryBackend",
    "Pipeline",
    "RedisBackend",
    "RunResult",
    "Step",
    "StepResult",
    "TokenPrice",
    "WorkflowContext",
    "context",
    "step",
    "token_cost",
]

# Bound eagerly: importing the submodule `step` would otherwise shadow the decorator `step`.
from .step import Step, step

if TYPE_CHECKING:
    from .cache import CacheStore
    from .compat.context import Context, context
    from .pipeline import Pipeline
    from .primitive import CachePrimitive, WorkflowContext
    from .primitive.backends import CacheBackend, InMemoryBackend, RedisBackend
    from .primitive.pricing import TokenPrice, token_cost
    from .result import RunResult, StepResult

_HOMES = {
    "Context": "compat.context",
    "context": "compat.context",
    "CachePrimitive": "primitive",
    "CacheBackend": "primitive.backends",
    "InMemoryBackend": "primitive.backends",
    "TokenPrice": "primitive.pricing",
    "token_cost": "primitive.pricing",
    "RedisBackend": "primitive.backends",
    "WorkflowContext": "primitive",
    "CacheStore": "cache",
    "Pipeline": "pipeline",
    "RunResult": "result",
    "StepResult": "result",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'flowyml_tui.engine' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{home}", __name__), name)
