"""The parallel walk of one run: every plain hit reported first, then each remaining step
submitted as soon as its upstream steps are done, up to the runner's capacity.

Everything but the call happens on the driver thread: hits are decided and reported without
reaching the runner, inputs are loaded before submission (so a decision and its inputs stay
consistent), and outcomes are stored and reported as they complete. Imported only by a run
whose runner has room for more than one step (it brings in `concurrent.futures`).
"""

from __future__ import annotations

import contextlib
import queue
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from concurrent.futures import Future
from typing import Protocol

from ..define.graph import Graph
from ..result import StepResult
from ..step import Step
from .breakeven import CostMeter
from .runner import StepOutcome, StepRunner
from .scheduler import Scheduler
from .submitting import InFlight

LOG_SECONDS = 0.05
"""How often lines from the runner's threads are emitted while nothing completes."""


class BeginStep(Protocol):
    """`Executor._begin_step`: a step decided (its result), submitted (in flight), or None
    when it executes and the runner is full."""

    def __call__(
        self, step: Step, *, may_submit: bool = True, try_hit: bool = True
    ) -> StepResult | InFlight | None: ...


class ParallelWalk:
    """One run's walk over a runner with room for more than one step at a time."""

    def __init__(
        self,
        *,
        graph: Graph,
        scheduler: Scheduler,
        results: MutableMapping[str, StepResult],
        runner: StepRunner,
        begin_step: BeginStep,
        cached_hit: Callable[[Step], StepResult | None] | None,
        complete: Callable[[InFlight], StepResult],
        drain_logs: Callable[[], None],
        costs: CostMeter,
    ) -> None:
        """`cached_hit` is the executor's lean hit path, None when hits are not asked for
        first (no store, or every step sent through the full decision)."""
        self.graph, self.scheduler, self.results, self.runner = graph, scheduler, results, runner
        self.begin_step, self.cached_hit, self.complete = begin_step, cached_hit, complete
        self.drain_logs, self.costs = drain_logs, costs
        self.missed: set[str] = set()
        """Steps the lean hit path missed in `hits_first`: not looked up again."""
        self.ready: deque[Step] = deque()
        """Steps whose upstream is done, not asked yet."""
        self.queued: deque[Step] = deque()
        """Steps found to execute while the runner was full, in the order they were found:
        asked again only when a slot frees, never rescanned while it is full (rescanning
        every one of them after each completion was quadratic in a fan-out)."""
        self.flying: dict[Future[StepOutcome], InFlight] = {}
        """Submitted and not completed, in submission order."""
        self.resolved: queue.SimpleQueue[Future[StepOutcome]] = queue.SimpleQueue()
        """Each submitted future as it resolves, put there by its done-callback: one cheap
        wake-up a step, where `concurrent.futures.wait` hooked a waiter into every flying
        future and unhooked it again on every call."""

    def run(self, capacity: int) -> None:
        missed = self.hits_first()
        if missed is None:  # fully cached: no scheduling at all, as inline
            return
        self.missed = missed
        scheduler, results, ready, queued = self.scheduler, self.results, self.ready, self.queued
        scheduler.start(done=results)
        ready.extend(scheduler.take())
        flying = self.flying
        try:
            while ready or queued or flying:
                while queued and len(flying) < capacity:  # the longest waiting first
                    self._begin(queued.popleft(), may_submit=True)
                while ready:
                    step = ready.popleft()
                    if not self._begin(step, may_submit=len(flying) < capacity):
                        queued.append(step)  # it executes, and the runner is full: later
                if not flying:
                    continue
                done = self._resolved()
                for future in [f for f in flying if f in done]:  # in submission order
                    began = flying.pop(future)
                    results[began.step.name] = self.complete(began)
                    scheduler.finish(began.step.name)
                    ready.extend(scheduler.take())
        finally:
            if flying:  # interrupted (a cancel, Ctrl-C): stop what still runs
                self.runner.cancel()
                for future in flying:
                    future.cancel()

    def _begin(self, step: Step, *, may_submit: bool) -> bool:
        """Begin `step`: decided (its result in, what it unblocked made ready) or submitted.
        False when it executes and `may_submit` is false."""
        began = self.begin_step(step, may_submit=may_submit, try_hit=step.name not in self.missed)
        if began is None:
            return False
        if isinstance(began, StepResult):
            self.results[step.name] = began
        elif began.future is None:  # failed before it could be submitted
            self.results[step.name] = self.complete(began)
        else:
            self.flying[began.future] = began
            began.future.add_done_callback(self.resolved.put)
            return True
        self.scheduler.finish(step.name)
        self.ready.extend(self.scheduler.take())
        return True

    def _resolved(self) -> set[Future[StepOutcome]]:
        """The futures resolved since last asked, at least one (waiting for it), with the
        log lines the runner's threads queued meanwhile emitted."""
        resolved, done = self.resolved, set()
        while not done:
            with contextlib.suppress(queue.Empty):
                done.add(resolved.get(timeout=LOG_SECONDS))
            self.drain_logs()
        while True:
            try:
                done.add(resolved.get_nowait())
            except queue.Empty:
                return done

    def hits_first(self) -> set[str] | None:
        """Report every plain cache hit reachable through hits alone, in topological order,
        before any scheduling: the same lean hit per step as the inline loop, so a fully
        cached parallel run costs what an inline one does.

        Returns the steps that missed here, or None when every step was a hit. The missed
        ones, steps with a `condition=` (asked before their hit, as inline) and everything
        downstream go to the ready-set machinery, which does not look the missed ones up
        again.
        """
        cached_hit = self.cached_hit
        if cached_hit is None:
            return {s.name for s in self.graph.order}
        results, upstream = self.results, self.graph.upstream
        undecided: set[str] = set()
        missed: set[str] = set()
        began, asked = time.perf_counter(), len(results)
        for step in self.graph.order:
            name = step.name
            if undecided and not undecided.isdisjoint(upstream[name]):
                undecided.add(name)
                continue
            if step.condition is not None:  # asked first, in `begin_step`, as inline
                undecided.add(name)
                continue
            hit = cached_hit(step)
            if hit is None:
                undecided.add(name)
                missed.add(name)
            else:
                results[name] = hit
        asked = len(results) - asked + len(missed)  # one clock pair a run: `run.breakeven`
        self.costs.lean_checks(asked, time.perf_counter() - began)
        return missed if undecided else None
