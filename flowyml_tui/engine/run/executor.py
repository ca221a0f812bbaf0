"""One run of the DAG, orchestrated: walks the steps with `scheduler`, asks `keying` for each
step's decision, hands the ones that execute to `submitting` and their outcomes to
`completing`, and reports through the `ledger`; `conditions` asks flowyml's `condition=`,
`recovery` re-runs the producer of a value that fails to load, and `parallel` walks a runner
with room for more than one step.

A cached step is decided from metadata alone: its inputs' fingerprints were stored when those
inputs were produced, so a fully cached run loads and hashes no artifact. Values are loaded only
when a step that executes needs them, or when a caller asks the result for one. Hits are decided
here, in the driver, and never reach the runner.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..cache import Store
from ..define.graph import Graph
from ..events import Event, ReasonKind, StepFinished, StepStatus
from ..result import Outputs, ResultsAfterRun, RunResult, StepResult, StepResults
from ..step import CachePolicy, Step
from . import decide
from .breakeven import CostMeter
from .completing import Completer
from .conditions import ConditionGate
from .decide import Clock, Decision, WorkspaceSnapshot
from .inputs import RunValues
from .keying import Keying
from .ledger import RunLedger
from .memo import RunMemo
from .planning import StepPlan, plan_steps
from .recovery import Recovery
from .runner import InlineRunner, StepRunner, user_traceback
from .scheduler import Scheduler
from .settled import settled_heap
from .storing import EntryWriter
from .submitting import InFlight, Submitter

EventSink = Callable[[Event], None]
# Python 3.11's `EnumType.__getattr__` makes each `CachePolicy.X` about ten times a global
# lookup (~130 ns): the per-step paths of a cached run read these names instead.
_OFF, _KEYED, _INPUT_ONLY = CachePolicy.DISABLED, CachePolicy.KEY_FN, CachePolicy.INPUT_HASH
_CACHED = StepStatus.CACHED
_REASON_CACHED = ReasonKind.CACHED


def new_run_id() -> str:
    """Unique, and sortable to the second: the start time, then a random suffix."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()


class Executor:
    """One run of one pipeline. Not reusable: make a new one per run."""

    def __init__(
        self,
        *,
        pipeline: str,
        graph: Graph,
        store: Store | None,
        context: Mapping[str, Any],
        on_event: EventSink | None = None,
        code_hash_mode: str = "ast",
        source_file: str | None = None,
        runner: StepRunner | None = None,
        clock: Clock = time.time,
    ) -> None:
        """`runner` calls the steps that execute (default: an `InlineRunner`, closed when the
        run ends; one passed in is the caller's to close). `clock` is what TTLs are judged by."""
        self.pipeline = pipeline
        self.graph = graph
        self.store = store
        self.context = dict(context)
        self.code_hash_mode = code_hash_mode
        self.source_file = source_file
        self.run_id = new_run_id()
        self.replayed = False
        """True once this run replayed the previous fully cached one (`memo.py`)."""
        self.lean_hits = True
        """False sends every step through the full decision: how tests hold the inlined hit
        path (`_cached_hit`) to reporting exactly what the full path reports."""
        self._sink = on_event
        self.scheduler = Scheduler(graph)
        self._own_runner = runner is None
        self._runner: StepRunner = InlineRunner() if runner is None else runner
        self._clock = clock
        start = store.begin_run(pipeline) if store is not None else None
        self._workspace = (
            WorkspaceSnapshot(pipeline, start.pins, start.invalidations, start.current)
            if start is not None
            else WorkspaceSnapshot(pipeline)
        )
        self._pins = self._workspace.pins
        self.keys = Keying(  # the one key path: keys, recipes, decisions, read checks
            pipeline=pipeline,
            graph=graph,
            context=self.context,
            code_hash_mode=code_hash_mode,
            store=store,
            workspace=self._workspace,
            clock=clock,
            root=os.path.dirname(os.path.abspath(source_file)) if source_file else None,
            excluded=(str(store.path),) if store is not None else (),
            input_values=lambda step: self.inputs.input_values(step),
        )
        # `Keying.key`, inlined in the hit path (a call is ~650 instructions a cached step).
        self._plans, self._key_from = self.keys.plans, self.keys.key_from
        # Asked once per cached step: bound once, and not at all for a one-tier store.
        layered = store is not None and store.layered
        self._tier_of = store.tier_of if layered else None
        self._writer_of = store.writer_of if layered else None
        self.costs = CostMeter(  # what the cache cost, measured
            pipeline=pipeline, store=store, verdicts=start.verdicts if start is not None else None
        )
        self.ledger = RunLedger(  # results, events, counters: everything the run reports
            run_id=self.run_id,
            pipeline=pipeline,
            graph=graph,
            store=store,
            keys=self.keys,
            sink=on_event,
            notices=store.notices if store is not None else None,
            origin=self._origin if self._tier_of is not None else None,
            meter=self.costs,
        )
        self.events = self.ledger.events
        self._results, self._used = self.ledger.results, self.ledger.used
        self._emit, self._warn = self.ledger.emit, self.ledger.warn
        self._finish = self.ledger.step_finished
        self._writer = (
            EntryWriter(
                pipeline=pipeline, store=store, keys=self.keys, warn=self._warn, meter=self.costs
            )
            if store is not None
            else None
        )
        self._output_fps = self.keys.output_fps
        self._context_fps = self.keys.context_fps
        self.inputs = RunValues(  # what each step receives, and where each value is
            graph=graph,
            context=self.context,
            store=store,
            output_fps=self._output_fps,
            context_fps=self._context_fps,
            warn=self._warn,
            recover=lambda name, problem: self.recovery.recover(name, problem),
            status_of=self._status_of,
            loaded=self.costs.loaded,
        )
        # The hit path reads these tables once per cached step: bound here, not looked up.
        self._values, self._output_entry = self.inputs.values, self.inputs.output_entry
        self._held = self.inputs.held
        self._invalidated = self._workspace.invalidated
        self._submitter = Submitter(  # a step that executes, handed to the runner
            run_id=self.run_id,
            graph=graph,
            keys=self.keys,
            inputs=self.inputs,
            runner=self._runner,
            store_path=store.path if store is not None else None,
            events=self.events,
            emit=self._emit,
            sink=on_event,
        )
        self._memo = RunMemo(  # the previous fully cached run, replayed if it still holds
            pipeline=pipeline,
            graph=graph,
            store=store,
            workspace=self._workspace,
            context=self.context,
            keys=self.keys,
            code_hash_mode=code_hash_mode,
        )
        self._completer = Completer(  # its outcome made into its result and entry
            inputs=self.inputs,
            writer=self._writer,
            used=self._used,
            warn=self._warn,
            finish=self._finish,
            fail=self._fail,
            drain_logs=self._submitter.drain_logs,
        )
        self.conditions = ConditionGate(  # flowyml's `condition=`, asked before the cache
            graph=graph,
            context=self.context,
            ledger=self.ledger,
            materialize=self.materialize,
            broken=self.scheduler.broken,
            fail=self._fail,
            finish=self._finish,
        )
        self.recovery = Recovery(  # a value that fails to load: its producer re-run
            graph=graph,
            store=store,
            keys=self.keys,
            inputs=self.inputs,
            ledger=self.ledger,
            broken=self.scheduler.broken,
            warn=self._warn,
            decide=self._decide,
            execute=self._execute,
            run_step=self._run_step,
        )

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> RunResult:
        started_at, started = time.time(), time.perf_counter()
        self.ledger.started(started_at, self.source_file, self.context)
        self.recovery.during_run = True
        capacity = self._runner.capacity
        # What existed before the run is left out of the collections it sets off, from its
        # first step to its record (`settled.py`): a replay's too, whose paused collector
        # runs as it ends, and the record's, which allocates per step.
        with settled_heap(len(self.graph.order)):
            try:
                replayed = self._replayed()
                if not replayed:
                    if capacity > 1:
                        self._walk_parallel(capacity)
                    else:
                        self._run_inline()
                    self._memo.keep(
                        results=self._results,
                        events=self.events,
                        located=self._output_entry,
                        used=self._used,
                    )
            finally:
                self.recovery.during_run = False
                if self._own_runner:  # its async steps' shared loop ends with the run
                    self._runner.close()
            duration = time.perf_counter() - started
            self.ledger.finished(started_at, duration)
        results = self._results
        assert isinstance(results, StepResults), "an executor runs once"
        # no cycle through each result's `output`
        self._results = self.ledger.results = ResultsAfterRun(results)
        return RunResult(
            run_id=self.run_id,
            pipeline=self.pipeline,
            step_results=results,
            outputs=Outputs(self.graph.output_names, self.materialize, self.graph.outputs_of),
            duration_seconds=duration,
            events=self.events,
        )

    def _walk_parallel(self, capacity: int) -> None:
        from .parallel import ParallelWalk  # brings in `concurrent.futures`: only when needed

        ParallelWalk(
            graph=self.graph,
            scheduler=self.scheduler,
            results=self._results,
            runner=self._runner,
            begin_step=self._begin_step,
            cached_hit=self._cached_hit if self.store is not None and self.lean_hits else None,
            complete=self._completer.complete,
            drain_logs=self._submitter.drain_logs,
            costs=self.costs,
        ).run(capacity)

    def plan(self) -> list[StepPlan]:
        """Decide every step as `run` would, executing nothing; unknown outputs are "will run"."""
        return plan_steps(self.graph, self.context, self._decide, self.inputs, self.materialize)

    def _replayed(self) -> bool:
        """The previous run, fully cached, reported again if nothing it depended on changed."""
        if not self.lean_hits:
            return False
        began = time.perf_counter()
        replayed = self._memo.replay(
            run_id=self.run_id,
            results=self._results,
            events=self.events,
            sink=self._sink,
            located=self._output_entry,
            used=self._used,
        )
        if replayed is None:
            return False
        self.costs.lean_checks(len(self._results), time.perf_counter() - began)
        self.replayed = True
        self.ledger.replayed = replayed
        return True

    # -- one step --------------------------------------------------------------------------

    def _run_inline(self) -> None:
        """One step at a time, in order. A plain hit is asked for first, as `_begin_step`
        would once it found nothing broken upstream and no `condition=` to ask: a cached
        step then costs one call here, not three."""
        results, scheduler = self._results, self.scheduler
        hit = self._cached_hit if self.store is not None and self.lean_hits else None
        # What the lean hits take is the loop's time less the steps that ran: one clock pair
        # a run, and one per step that ran, never one per hit (`run.breakeven`).
        clock, began, aside, direct = time.perf_counter, time.perf_counter(), 0.0, len(results)
        for step in scheduler.one_at_a_time():
            if hit is None or step.condition is not None or scheduler.broken:
                went = clock()
                results[step.name] = self._run_step(step)
                aside += clock() - went
                direct += 1
            else:
                found = hit(step)
                if found is None:
                    went = clock()
                    found = self._run_step(step, try_hit=False)
                    aside += clock() - went
                results[step.name] = found
        asked = len(results) - direct
        if asked > 0:
            self.costs.lean_checks(asked, clock() - began - aside)

    def _run_step(self, step: Step, *, try_hit: bool = True) -> StepResult:
        """Decide the step and, if it executes, run it to the end (one step at a time)."""
        began = self._begin_step(step, try_hit=try_hit)
        if isinstance(began, StepResult):
            return began
        assert began is not None
        return self._completer.complete(began)

    def _begin_step(
        self, step: Step, *, may_submit: bool = True, try_hit: bool = True
    ) -> StepResult | InFlight | None:
        """A step decided here (hit, pinned, skipped, failed to decide) as its result; one
        that executes as submitted; None if it executes and `may_submit` is false.
        `try_hit=False`: `_cached_hit` already said no, go straight to the full decision."""
        scheduler = self.scheduler
        broken = scheduler.broken_upstream(step) if scheduler.broken else None
        if broken is None and step.condition is not None:
            skipped = self.conditions.check(step)
            if skipped is not None:
                return skipped
        if broken is None and try_hit and self.store is not None and self.lean_hits:
            hit = self._cached_hit(step)
            if hit is not None:
                return hit
        if broken is not None:
            result = StepResult(name=step.name)
            verb = "failed" if self._results[broken].status is StepStatus.FAILED else "skipped"
            result.status, result.reason_kind = StepStatus.SKIPPED, ReasonKind.SKIPPED
            result.reason = f"upstream {broken} {verb}"
            scheduler.broken.add(step.name)
            self._finish(step, result)
            return result
        if not may_submit:  # asked again when the runner has room: nothing made yet
            return None
        result = StepResult(name=step.name)
        try:
            decision = self.recovery.decide_with_inputs(step)
        except Exception as exc:  # an unhashable input, a key function that raised
            self._fail(result, exc, prefix="")
            self._finish(step, result)
            return result
        result.reason, result.reason_kind = decision.reason, decision.kind
        result.changed, result.diff = decision.changed, decision.diff
        if decision.action in ("hit", "pinned") and decision.entry is not None:
            entry = decision.entry
            result.status = StepStatus.PINNED if decision.action == "pinned" else StepStatus.CACHED
            result.cached = True
            result.key = entry.key
            result.code_hash = self.keys.shown_code_hash(step, entry.code_hash) or result.code_hash
            result.saved_seconds = entry.duration
            self.inputs.remember_entry(step, entry)
            result.output_fingerprints = dict(zip(step.outputs, entry.output_fps, strict=False))
            self._used[step.name] = entry.key
            self._finish(step, result, entry=entry)
            return result
        return self._submitter.submit(step, decision, result)

    def _cached_hit(self, step: Step) -> StepResult | None:
        """A plain cache hit, decided and reported without building a `Recipe`, or None.

        The common case of a cached run, so it is kept lean: the key is digested straight
        from the step's fingerprints (`Keying.key`, byte-identical to `Recipe.key`). Anything
        else (a pin, key function, invalidation, expiry, a miss, an input that cannot be
        hashed) returns None and takes the full decision, which explains it.
        """
        policy = step.policy
        if policy is _OFF or policy is _KEYED:
            return None
        name = step.name
        if name in self._pins:
            return None
        assert self.store is not None
        try:
            plan = self._plans.get(name)
            if plan is None or plan.step is not step:
                plan = self.keys.key_plan(step)
            key = self._key_from(plan)
        except Exception:  # the full decision raises it again and reports it
            return None
        entry = self.store.get_entry(key)
        if entry is None:
            return None
        mark = self._invalidated.get(name)
        if (mark is not None or step.ttl is not None) and decide.stale(
            step, entry, mark, self._clock, None
        ):
            return None
        if entry.reads and self.keys.world_change(entry) is not None:
            return None  # a file it read changed: the full decision says which
        outputs = step.outputs
        output_fps = entry.output_fps
        values, located, known = self._values, self._output_entry, self._output_fps
        if len(outputs) == 1:  # most steps: no loops, no zips
            output = outputs[0]
            values.pop(output, None)
            located[output] = entry
            known[output] = fp = output_fps[0]
            fps = {output: fp}
            sizes, shown = {output: entry.sizes[0]}, {output: entry.previews[0]}
        else:
            for index, output in enumerate(outputs):
                values.pop(output, None)
                located[output] = entry
                known[output] = output_fps[index]
            fps = dict(zip(outputs, output_fps, strict=True))
            sizes = dict(zip(outputs, entry.sizes, strict=True))
            shown = dict(zip(outputs, entry.previews, strict=True))
        code_hash = (
            entry.code_hash or None
            if policy is not _INPUT_ONLY
            else self.keys.shown_code_hash(step, entry.code_hash)
        )
        inputs = step.inputs
        if len(inputs) == 1:
            first = inputs[0]
            input_fps = {first: known[first]} if first in known else {}
        else:
            input_fps = {n: known[n] for n in inputs if n in known}
        # By position: on Python 3.11 msgspec takes keywords through a dict, ~0.5 µs for these
        # two a step (test_fast_keys checks each field against the full decision's).
        # name, status, reason, reason_kind, cached, duration_seconds, saved_seconds,
        # code_hash, key, error, exception, diff, changed, logs, warnings, output_fingerprints
        result = StepResult(
            name, _CACHED, "cached", _REASON_CACHED, True, 0.0, entry.duration,
            code_hash, key, None, None, None, (), [], [], fps,
        )  # fmt: skip
        self._used[name] = key
        tier_of = self._tier_of  # `_origin`, inlined: None for a one-tier store
        tier, writer = (None, None) if tier_of is None else (tier_of(key), self._writer_of(key))
        # run_id, step, status, reason, reason_kind, cached, duration_seconds, saved_seconds,
        # cache, key, code_hash, changed, diff, error, input_fingerprints,
        # output_fingerprints, output_sizes, output_previews, warnings, tier, written_by
        finished = StepFinished(
            self.run_id, name, "cached", "cached", "cached", True, 0.0, entry.duration,
            step.cache_label, key, code_hash, (), None, None, input_fps,
            fps, sizes, shown, (), tier, writer,
        )  # fmt: skip
        if entry.reads:
            finished = msgspec.structs.replace(finished, reads=tuple(entry.reads))
        self.events.append(finished)  # `_emit`, inlined: this runs once per cached step
        if self._sink is not None:
            self._sink(finished)
        return result

    def _decide(self, step: Step, pending_upstream: list[str] | None = None) -> Decision:
        """`Keying.decide`, its warnings reported here."""
        decision = self.keys.decide(step, pending_upstream)
        for message, where in decision.warnings:
            self._warn(message, where)
        return decision

    def _execute(self, step: Step, decision: Decision, result: StepResult) -> None:
        """Run one step to the end: submit it and wait for it (a re-run mid-decision)."""
        self._completer.complete(self._submitter.submit(step, decision, result))

    # -- values ----------------------------------------------------------------------------

    def materialize(self, output_name: str) -> Any:
        """The value of an output: from this run's memory, else from the cache (a corrupt
        entry re-runs its step right here)."""
        return self.inputs.materialize(output_name)

    def _status_of(self, step: str) -> StepStatus | None:
        result = self._results.get(step)
        return result.status if result is not None else None

    # -- reporting -------------------------------------------------------------------------

    def _fail(
        self, result: StepResult, exc: BaseException, prefix: str, formatted: str | None = None
    ) -> None:
        self.scheduler.broken.add(result.name)
        result.status = StepStatus.FAILED
        result.reason_kind = ReasonKind.FAILED
        result.reason = f"{prefix}{type(exc).__name__}: {exc}"
        result.exception = exc
        result.error = formatted if formatted is not None else user_traceback(exc)

    def _origin(self, key: str | None) -> tuple[str | None, str | None]:
        """(tier, `user@host` who computed it) of a hit; nothing to name in a one-tier store."""
        if self._tier_of is None or self._writer_of is None:
            return None, None
        return self._tier_of(key), self._writer_of(key)
