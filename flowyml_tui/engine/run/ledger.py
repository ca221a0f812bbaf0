"""What one run keeps and tells: each step's result, the events in order, which entry each
step used, and the counters written when the run ends.

The executor decides and schedules; everything it reports goes through the `RunLedger`, so
the shape of a `StepFinished`, the one-notice-per-kind rule of a shared tier and the usage
counters live in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import msgspec

from ..cache import Store
from ..cache.entry import Entry
from ..cache.notices import Notices
from ..define.graph import Graph
from ..describe.context_text import shown_context
from ..describe.preview import preview
from ..events import (
    Event,
    RunFinished,
    RunStarted,
    RunWarning,
    StepFinished,
    StepStatus,
)
from ..history.totals import CACHE_OFF
from ..reads.model import Read
from ..reads.snapshot import ReadSnapshot
from ..result import StepResult, StepResults
from ..step import CachePolicy, Step
from .breakeven import CostMeter
from .keying import Keying

EventSink = Callable[[Event], None]
Origin = Callable[[str | None], tuple[str | None, str | None]]
"""(tier, `user@host` who computed it) of a hit's key."""

_OFF = CachePolicy.DISABLED
_EXECUTED, _FAILED, _CACHED = StepStatus.EXECUTED, StepStatus.FAILED, StepStatus.CACHED
_NO_COUNTS = dict.fromkeys(StepStatus, 0)
"""Steps per status before any is counted: copied, not rebuilt by walking the enum, each run."""


class Replayed(msgspec.Struct, frozen=True, gc=False):
    """A run replayed whole (`memo.py`): what its results add up to, worked out once when the
    run was kept, since every replay reports those same results."""

    run_id: str
    """The run kept, told in each replay's `RunFinished.replay_of`."""
    hits: tuple[str, ...]
    """Every step: each a plain hit, no call cache."""
    saved_seconds: float


class RunLedger:
    """The results and events of one run, and the one place they are reported from."""

    def __init__(
        self,
        *,
        run_id: str,
        pipeline: str,
        graph: Graph,
        store: Store | None,
        keys: Keying,
        sink: EventSink | None,
        notices: Notices | None,
        origin: Origin | None,
        meter: CostMeter | None = None,
    ) -> None:
        """`notices`: a shared tier's problems to report (None for the local store);
        `origin`: how to name a hit's tier and writer (None for a one-tier store); `meter`:
        what the cache cost this run, folded into its history when the run ends."""
        self.meter = meter
        self.run_id = run_id
        self.pipeline = pipeline
        self.graph = graph
        self.store = store
        self.keys = keys
        self.sink = sink
        self.notices = notices
        self.origin = origin
        self.events: list[Event] = []
        self.results: MutableMapping[str, StepResult] = StepResults()
        self.used: dict[str, str] = {}
        """Step -> the entry it used or wrote: the next run's baseline for its reasons."""
        self._told: set[str] = set()
        """Kinds of shared-tier notice this run has told (one `RunWarning` each)."""
        self.replayed: Replayed | None = None
        """The run this one replayed (`memo.py`): its counts are that run's."""

    # -- telling ---------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        if not isinstance(event, RunStarted):  # a tier's notices go before the run ends
            self.tell_notices()
        self.events.append(event)
        if self.sink is not None:
            self.sink(event)
        if isinstance(event, RunStarted):  # ...and after it starts (prefetch left some)
            self.tell_notices()

    def warn(self, message: str, step: str | None = None) -> None:
        self.emit(RunWarning(run_id=self.run_id, message=message, step=step))

    def tell_notices(self) -> None:
        """The shared tier's notices as `RunWarning`s: one per kind per run."""
        if self.notices is None:
            return
        for code, message in self.notices.take():
            if code not in self._told:
                self._told.add(code)
                self.emit(RunWarning(run_id=self.run_id, message=message, code=code))

    def started(
        self, started_at: float, source_file: str | None, context: Mapping[str, Any]
    ) -> None:
        self.emit(
            RunStarted(
                run_id=self.run_id,
                pipeline=self.pipeline,
                started_at=started_at,
                steps=self.graph.infos,
                source_file=source_file,
                cache_dir=str(self.store.path) if self.store else None,
                context=shown_context(context),
            )
        )

    def finished(self, started_at: float, duration: float) -> None:
        """Write the usage counters and the cache's cost history (a run with a store), then
        report the run's end."""
        flags: dict[str, str] = {}
        if self.store is not None:
            self._record_usage(self.store)
            if self.meter is not None:
                flags = self.meter.record(self.warn)
        counts = dict(_NO_COUNTS)
        saved = 0.0
        replayed = self.replayed
        if replayed is not None:  # the replayed run's results, added up when it was kept
            counts[_CACHED], saved = len(replayed.hits), replayed.saved_seconds
        for result in self.results.values() if replayed is None else ():
            counts[result.status] += 1  # one pass; a step's calls only when it has some
            calls = result.calls
            saved += result.saved_seconds + (sum(c.saved_seconds for c in calls) if calls else 0)
        failed = counts[StepStatus.FAILED]
        self.emit(
            RunFinished(
                run_id=self.run_id,
                pipeline=self.pipeline,
                status="failed" if failed else "succeeded",
                started_at=started_at,
                finished_at=time.time(),
                duration_seconds=duration,
                executed=counts[StepStatus.EXECUTED],
                cached=counts[StepStatus.CACHED] + counts[StepStatus.PINNED],
                failed=failed,
                skipped=counts[StepStatus.SKIPPED],
                saved_seconds=saved,
                cache_check_s=self.meter.check_s() if self.meter is not None else 0.0,
                cache_costs=self.meter.costs() if self.meter is not None else {},
                cache_flags=flags,
                replay_of=replayed.run_id if replayed is not None else None,
            )
        )

    def step_finished(
        self,
        step: Step,
        result: StepResult,
        *,
        entry: Entry | None = None,
        values: tuple[Any, ...] | None = None,
        previews: tuple[str, ...] | None = None,
        reads: ReadSnapshot | None = None,
    ) -> None:
        """Report a step decided or run to its end (the hit path builds its own, by
        position: `Executor._cached_hit`)."""
        if entry is not None:
            sizes = dict(zip(step.outputs, entry.sizes, strict=False))
            shown = dict(zip(step.outputs, entry.previews, strict=False))
        else:
            sizes = {}
            if previews is None and values is not None:
                previews = tuple(preview(v) for v in values)
            shown = dict(zip(step.outputs, previews, strict=True)) if previews is not None else {}
        tier, writer = (
            self.origin(result.key) if result.cached and self.origin is not None else (None, None)
        )
        known = self.keys.output_fps
        self.emit(
            StepFinished(
                run_id=self.run_id,
                step=step.name,
                status=result.status.value,
                reason=result.reason,
                reason_kind=result.reason_kind.value if result.reason_kind else "",
                cached=result.cached,
                duration_seconds=result.duration_seconds,
                saved_seconds=result.saved_seconds,
                cache=step.cache_label if self.store is not None else CACHE_OFF,
                key=result.key,
                code_hash=result.code_hash,
                changed=result.changed,
                diff=result.diff,
                error=result.error,
                input_fingerprints={n: known[n] for n in step.inputs if n in known},
                output_fingerprints=result.output_fingerprints,
                output_sizes=sizes,
                output_previews=shown,
                warnings=tuple(result.warnings),
                tier=tier,
                written_by=writer,
                retries=result.retries,
                calls=result.calls,
                reads=self._reads_shown(entry, reads),
            )
        )

    def _reads_shown(self, entry: Entry | None, reads: ReadSnapshot | None) -> tuple[Read, ...]:
        """What the step's result read, as its entry keeps it (or, not stored, as recorded)."""
        if entry is not None:
            return tuple(entry.reads)
        if reads is not None:
            return tuple(self.keys.stored_reads(reads)[0])
        return ()

    def _record_usage(self, store: Store) -> None:
        try:
            if self.replayed is not None:
                store.count_replay(self.pipeline, self.used, self.replayed.hits)
                return
            hits = [n for n, r in self.results.items() if r.cached]
            misses = [  # as totals.hit_rate counts them: executed or failed, cache on
                n
                for n, r in self.results.items()
                if r.status in (_EXECUTED, _FAILED) and self.graph.step(n).policy is not _OFF
            ]
            store.record_run(self.pipeline, self.used, hits, misses)
        except Exception as exc:  # bookkeeping must never fail a run that succeeded
            self.warn(f"could not update cache statistics: {exc}")
