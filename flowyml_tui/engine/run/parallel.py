"""The parallel walk of one run: every plain hit reported first, then each remaining step
submitted as soon as its upstream steps are done, up to the runner's capacity.

Everything but the call happens on the driver thread: hits are decided and reported without
reaching the runner, inputs are loaded before submission (so a decision and its inputs stay
consistent), and outcomes are stored and reported as they complete. Imported only by a run
whose runner has room for more than one step (it brings in `concurrent.futures`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, MutableMapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Protocol

from ..define.graph import Graph
from ..result import StepResult
from ..step import Step
from .breakeven import CostMeter
from .runner import StepOutcome, StepRunner
from .scheduler import Scheduler
from .submitting import InFlight


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

    def run(self, capacity: int) -> None:
        missed = self.hits_first()
        if missed is None:  # fully cached: no scheduling at all, as inline
            return
        scheduler, results = self.scheduler, self.results
        scheduler.start(done=results)
        ready = deque(scheduler.take())
        """Steps not asked yet."""
        queued: deque[Step] = deque()
        """Steps found to execute while the runner was full, in the order they were found:
        asked again only when a slot frees, never rescanned while it is full (rescanning
        every one of them after each completion was quadratic in a fan-out)."""
        flying: dict[Future[StepOutcome], InFlight] = {}
        try:
            while ready or queued or flying:
                while queued and len(flying) < capacity:  # the longest waiting first
                    self._began(queued.popleft(), missed, True, ready, flying)
                while ready:
                    step = ready.popleft()
                    if not self._began(step, missed, len(flying) < capacity, ready, flying):
                        queued.append(step)  # it executes, and the runner is full: later
                if not flying:
                    continue
                done: set[Future[StepOutcome]] = set()
                while not done:
                    done, _ = wait(flying, timeout=0.05, return_when=FIRST_COMPLETED)
                    self.drain_logs()
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

    def _began(
        self,
        step: Step,
        missed: set[str],
        may_submit: bool,
        ready: deque[Step],
        flying: dict[Future[StepOutcome], InFlight],
    ) -> bool:
        """Begin `step`: decided (its result in, what it unblocked made ready) or submitted.
        False when it executes and `may_submit` is false."""
        began = self.begin_step(step, may_submit=may_submit, try_hit=step.name not in missed)
        if began is None:
            return False
        if isinstance(began, StepResult):
            self.results[step.name] = began
        elif began.future is None:  # failed before it could be submitted
            self.results[step.name] = self.complete(began)
        else:
            flying[began.future] = began
            return True
        self.scheduler.finish(step.name)
        ready.extend(self.scheduler.take())
        return True

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
