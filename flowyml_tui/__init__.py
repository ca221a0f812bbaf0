"""flowyml-tui: a pipeline workbench whose step cache explains itself.

`from flowyml_tui import Pipeline, step, CacheStore` (and, for call-level caching,
`CachePrimitive`, `WorkflowContext` and the `CacheBackend` protocol with `InMemoryBackend` and
`RedisBackend`, `token_cost` and `TokenPrice` to price LLM calls; flowyml's `Context` and
`context`) is the whole public API; the names load
lazily so that `import flowyml_tui.engine.events` (the worker protocol) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
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

if TYPE_CHECKING:
    from .engine import (
        CacheBackend,
        CachePrimitive,
        CacheStore,
        Context,
        InMemoryBackend,
        Pipeline,
        RedisBackend,
        RunResult,
        Step,
        StepResult,
        TokenPrice,
        WorkflowContext,
        context,
        step,
        token_cost,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'flowyml_tui' has no attribute {name!r}")
