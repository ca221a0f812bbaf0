"""flowyml's run hooks and metrics collector, fired by our runs of a translated pipeline.

flowyml's orchestrator calls `on_pipeline_start`/`on_step_start`/`on_step_end`/
`on_pipeline_end` hooks and the collector set with `set_metrics_collector` around each run.
Here they are told by our run's events, with flowyml's own pipeline and step objects, and a
flowyml `ExecutionResult` per finished step; the pipeline-end hook gets our result, which has
flowyml's `success`, `run_id`, `duration_seconds`, `outputs` and `step_results`.
"""

from __future__ import annotations

from typing import Any

from ..events import Event, RunStarted, StepFinished, StepStarted


class FlowymlHooks:
    """An event observer for one run of `flowyml_pipeline`, translated."""

    def __init__(self, flowyml_pipeline: Any) -> None:
        from flowyml.core.hooks import get_global_hooks
        from flowyml.core.observability import get_metrics_collector

        self.pipeline = flowyml_pipeline
        self.hooks = get_global_hooks()
        self.collector = get_metrics_collector()
        self.steps = {s.name: s for s in _steps_of(flowyml_pipeline)}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.hooks.run_pipeline_start_hooks(self.pipeline)
            if self.collector:
                self.collector.record_pipeline_start(self.pipeline, event.run_id)
        elif isinstance(event, StepStarted) and event.step in self.steps:
            step = self.steps[event.step]
            self.hooks.run_step_start_hooks(step, {})
            if self.collector:
                self.collector.record_step_start(step, self.pipeline.name, event.run_id)
        elif isinstance(event, StepFinished) and event.step in self.steps:
            step = self.steps[event.step]
            result = _execution_result(event)
            self.hooks.run_step_end_hooks(step, result)
            if self.collector:
                self.collector.record_step_end(step, result, self.pipeline.name, event.run_id)

    def finished(self, result: Any) -> None:
        """The run returned: flowyml's pipeline-end hooks and collector get its result."""
        self.hooks.run_pipeline_end_hooks(self.pipeline, result)
        if self.collector:
            self.collector.record_pipeline_end(self.pipeline, result)


def _execution_result(event: StepFinished) -> Any:
    from flowyml.core.executor import ExecutionResult

    return ExecutionResult(
        step_name=event.step,
        success=event.status not in ("failed",),
        error=event.error,
        duration_seconds=event.duration_seconds,
        cached=event.cached,
        skipped=event.status == "skipped",
    )


def _steps_of(flowyml_pipeline: Any) -> list[Any]:
    versioned = type(flowyml_pipeline).__name__ == "VersionedPipeline"
    return list((flowyml_pipeline.pipeline if versioned else flowyml_pipeline).steps)
