"""Every `Pipeline.run()` a pipeline file makes while the tool runs it, sent to one handler.

A flowyml project is a script: it builds a pipeline (at module level or inside `main()`),
calls `run()`, and uses what came back (`result.outputs["report"]`, `if result.success:`).
While the loader runs such a file, each `run()` (ours, or flowyml's once translated) is
handed to the caller's `RunHandler`, which runs it on our engine (cached, shown, recorded)
and returns the real result, so the file's own code after `run()` sees real outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..pipeline import Pipeline
    from ..result import RunResult


class RunHandler(Protocol):
    """Runs one pipeline the script asked to run, with the context it passed; returns the result."""

    def __call__(self, pipeline: Pipeline, context: dict[str, Any]) -> RunResult: ...


class ScriptRun:
    """One `run()` the script made: the pipeline, the context it passed, what came back."""

    __slots__ = ("context", "pipeline", "result")

    def __init__(self, pipeline: Pipeline, context: dict[str, Any], result: RunResult) -> None:
        self.pipeline = pipeline
        self.context = context
        self.result = result


def run_plainly(pipeline: Pipeline, context: dict[str, Any]) -> RunResult:
    """The default handler: run on our engine, cached and recorded, shown nowhere."""
    return pipeline.run(context)


class ScriptRuns:
    """The handler in force while a file runs, and the runs it made, in order."""

    def __init__(self, handler: RunHandler) -> None:
        self.handler = handler
        self.runs: list[ScriptRun] = []

    def run(self, pipeline: Pipeline, context: Mapping[str, Any]) -> RunResult:
        """Run `pipeline` through the handler; a `run()` made inside it runs plainly."""
        _ACTIVE.remove(self)
        try:
            result = self.handler(pipeline, dict(context))
        finally:
            _ACTIVE.append(self)
        self.runs.append(ScriptRun(pipeline, dict(context), result))
        return result


_ACTIVE: list[ScriptRuns] = []
"""The file being run by the loader, if any: its `run()` calls go to its handler."""


def active() -> ScriptRuns | None:
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def collecting(handler: RunHandler) -> Iterator[ScriptRuns]:
    """While the body runs, `Pipeline.run()` goes to `handler`; yields the runs made."""
    runs = ScriptRuns(handler)
    _ACTIVE.append(runs)
    try:
        yield runs
    finally:
        if runs in _ACTIVE:
            _ACTIVE.remove(runs)
