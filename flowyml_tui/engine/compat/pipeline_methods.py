"""flowyml's `Pipeline` methods about the cache and past runs, answered from our store.

flowyml 2.2.1's `cache_stats()`, `check_cache()`, `invalidate_cache()`, `rerun()` and
`dry_run()` read its own cache and metadata database; here they read our cache store and run
records, so what a script prints after `run()` describes the runs our engine made.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import FlowymlError
from ..history.totals import hit_rate

if TYPE_CHECKING:
    from ..cache import CacheStore
    from ..define.graph import Graph
    from ..result import RunResult
    from ..run.planning import StepPlan


class _PipelineLike(Protocol):
    name: str
    context: dict[str, Any]

    @property
    def store(self) -> CacheStore: ...

    def _cache_path(self) -> Path: ...

    def graph(self, context: Mapping[str, Any] | None = None) -> Graph: ...

    def invalidate(self, step: str, downstream: bool = True) -> list[str]: ...

    def run(self, context: Mapping[str, Any] | None = None, **params: Any) -> RunResult: ...

    def plan(self, context: Mapping[str, Any] | None = None, **params: Any) -> list[StepPlan]: ...


class FlowymlMethods:
    """Mixed into `Pipeline`."""

    def cache_stats(self: _PipelineLike) -> dict[str, Any]:
        """flowyml's shape: total_entries, total_size_mb, hits, misses, hit_rate, by_step."""
        stats = self.store.stats()
        rows = [r for r in stats["steps"] if r["pipeline"] == self.name]
        hits = sum(r["hits"] for r in rows)
        misses = sum(r["misses"] for r in rows)
        return {
            "total_entries": sum(r["entries"] for r in rows),
            "total_size_mb": sum(r["bytes"] for r in rows) / (1024 * 1024),
            "hits": hits,
            "misses": misses,
            "hit_rate": hit_rate(hits, misses) or 0.0,
            "by_step": {r["step"]: {"count": r["entries"], "size_bytes": r["bytes"]} for r in rows},
        }

    def check_cache(self: _PipelineLike) -> dict[str, Any] | None:
        """The newest successful run of this pipeline (flowyml's metadata shape), else None."""
        import datetime

        from ..history.records import list_runs

        for run in list_runs(self._cache_path(), limit=None):
            if run.pipeline == self.name and run.status == "succeeded":
                created = datetime.datetime.fromtimestamp(run.started_at)
                return {
                    "run_id": run.run_id,
                    "pipeline_name": run.pipeline,
                    "status": "completed",
                    "created_at": created.isoformat(),
                    "duration": run.duration_seconds,
                    "context": dict(run.context),
                }
        return None

    def invalidate_cache(
        self: _PipelineLike, step: str | None = None, before: str | None = None
    ) -> int:
        """Delete this pipeline's cache entries: of `step` only, and/or made before `before`
        (an ISO date or datetime); returns how many went. With neither, all of them."""
        import datetime

        store = self.store
        if before is None:
            if step is not None:
                return store.clear_step(
                    self.graph(self.context).step(step).name, pipeline=self.name
                )
            return store.clear_pipeline(self.name)
        try:
            cutoff = datetime.datetime.fromisoformat(before).timestamp()
        except ValueError:
            raise FlowymlError(
                f"invalidate_cache(before={before!r}): not an ISO date; pass e.g. '2026-01-31' "
                "or '2026-01-31T12:00'"
            ) from None
        gone = 0
        for entry in store.entries(step, pipeline=self.name):
            if entry.created_at < cutoff:
                store.delete_entry(entry.key)
                gone += 1
        return gone

    def rerun(
        self: _PipelineLike, run_id: str, from_step: str | None = None, **kwargs: Any
    ) -> RunResult:
        """Run again after run `run_id`: what finished comes from the cache, what failed runs.

        `from_step` re-runs that step and everything downstream of it, as flowyml's resume
        from a step does. The run uses the pipeline's context (records keep its values only
        as short texts); pass `context=` to give it another.
        """
        from ..history.records import load_run

        record = load_run(self._cache_path(), run_id)
        if record.get("pipeline") != self.name:
            raise FlowymlError(
                f"run {run_id!r} is a run of pipeline {record.get('pipeline')!r}, not "
                f"{self.name!r}; pick one of its own runs (`flowyml-tui runs`)"
            )
        if from_step is not None:
            self.invalidate(from_step)
        return self.run(**kwargs)

    def dry_run(self: _PipelineLike, inputs: Mapping[str, Any] | None = None, **kwargs: Any):
        """flowyml's validation without running: our `plan()`, what each step would do and why."""
        return self.plan(inputs)
