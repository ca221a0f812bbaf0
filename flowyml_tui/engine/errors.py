"""Errors by area: each message says what was wrong, where, and what to do."""

from __future__ import annotations


class FlowymlError(Exception):
    """Base of every error flowyml-tui raises on purpose."""


class StepDefinitionError(FlowymlError):
    """A `@step` declaration that cannot work (bad cache strategy, bad outputs...)."""


class PipelineDefinitionError(FlowymlError):
    """The DAG cannot be built: a cycle, a missing input, duplicate outputs."""


class CycleError(PipelineDefinitionError):
    """Steps depend on each other in a loop."""


class MissingInputError(PipelineDefinitionError):
    """A step reads a value that no step produces and the context does not hold."""


class DuplicateOutputError(PipelineDefinitionError):
    """Two steps claim the same output name."""


class UnknownStepError(FlowymlError):
    """A step name that the pipeline or the cache does not know."""


class AmbiguousStepError(UnknownStepError):
    """A step name that several pipelines sharing one cache dir use: name the pipeline."""


class UnhashableInput(FlowymlError):
    """A value that cannot be fingerprinted, so no cache key can be made for the step."""


class StepOutputError(FlowymlError):
    """A step returned something that does not match its declared outputs."""


class SettingError(FlowymlError):
    """An option, environment variable or `Pipeline` argument whose value cannot work."""


class CacheError(FlowymlError):
    """The cache directory cannot be used safely."""


class CacheFullError(CacheError):
    """The disk holding the cache is full: a run goes on uncached, `cache clear` still works."""


class PipelineLoadError(FlowymlError):
    """A pipeline file could not be loaded or holds no pipeline; `file`/`line` say where."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.traceback = traceback
