"""`Pipeline`: flowyml's pipeline object, with a cache that explains itself."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import DEFAULT_CACHE_DIR, CacheStore, open_store, store_path
from .cache.private import ensure_cache_dir
from .compat.pipeline_methods import FlowymlMethods
from .define.graph import Graph, build_graph
from .errors import CacheFullError, MissingInputError, StepDefinitionError
from .events import Event
from .hashing.sources import one_read_per_file
from .history.rates import NO_RATES, RunRates, read_rate_config, run_rates, runner_kind
from .history.records import RunRecorder
from .history.replay_lines import ReplayLines
from .history.savings import DEFAULT_CURRENCY, RateError, checked_rate
from .load import script_runs
from .result import RunResult
from .run.executor import Executor
from .run.planning import StepPlan
from .run.runner import StepRunner
from .step import Step

if TYPE_CHECKING:
    from .define.step_groups import StepGroup

CODE_HASH_MODES = ("ast", "source")
FLOWYML_OPTIONS = frozenset(
    {
        "executor",
        "enable_checkpointing",
        "enable_experiment_tracking",
        "auto_track",
        "stack",
        "env",
        "project",
        "project_name",
        "version",
        "auto_discover",
    }
)
"""flowyml 2.2.1's other `Pipeline(...)` keywords: accepted so its files load unchanged."""


class Pipeline(FlowymlMethods):
    """A named set of steps wired by input/output names, run with a step cache.

    `code_hash_mode="source"` is flowyml's strict behaviour (any edit to a step's source,
    comments included, re-runs it); the default `"ast"` ignores comments, formatting and
    docstrings.
    """

    def __init__(
        self,
        name: str,
        enable_cache: bool = True,
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        context: Mapping[str, Any] | None = None,
        *,
        code_hash_mode: str = "ast",
        keep_runs: int = 50,
        shared: str | None = None,
        blobs: str | None = None,
        cost_per_hour: float | None = None,
        currency: str | None = None,
        **flowyml_options: Any,
    ) -> None:
        unknown = sorted(set(flowyml_options) - FLOWYML_OPTIONS)
        if unknown:
            raise TypeError(
                f"Pipeline() got unexpected keyword arguments {unknown}; it takes enable_cache, "
                "cache_dir, context, code_hash_mode, keep_runs, shared, blobs, cost_per_hour, "
                "currency, and flowyml's "
                f"{sorted(FLOWYML_OPTIONS)} (accepted, not acted on)"
            )
        if code_hash_mode not in CODE_HASH_MODES:
            raise ValueError(
                f"code_hash_mode must be one of {CODE_HASH_MODES}, got {code_hash_mode!r}"
            )
        self.name = name
        self.enable_cache = enable_cache
        self.cache_dir = cache_dir
        self.context: dict[str, Any] = dict(context or {})
        self.code_hash_mode = code_hash_mode
        self.keep_runs = keep_runs
        self.shared = shared
        """Redis URL of the team's shared cache (else `FLOWYML_TUI_SHARED`); see README."""
        self.blobs = blobs
        """fsspec URL of the team's blob store for big values (else `FLOWYML_TUI_BLOBS`)."""
        self.rate = (
            None
            if cost_per_hour is None
            else checked_rate(cost_per_hour, currency or DEFAULT_CURRENCY)
        )
        """What an hour of this pipeline's compute costs (else the user config's rate): the
        savings ledger's money (issue 28)."""
        self.currency = currency
        self.source_file: str | None = None
        self.flowyml_options = flowyml_options
        """flowyml's own settings (stack, project_name ...): kept so its files load unchanged;
        the engine does not use them."""
        self.steps: list[Step] = []
        self.observers: list[Callable[[Event], None]] = []
        """Told every event of every run, beside the caller's `on_event` (flowyml's hooks)."""
        self._store: CacheStore | None = None
        self._graph: tuple[tuple[Any, ...], Graph] | None = None
        self._run_rates: tuple[tuple[Any, ...], RunRates] | None = None
        self._cache_at: tuple[tuple[str, str, str | None], Path] | None = None
        self._record_lines = ReplayLines()
        """The step lines of the last run recorded, for the records of the runs replaying it."""

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={[s.name for s in self.steps]})"

    # -- building --------------------------------------------------------------------------

    def add_step(self, step: Step | Callable[..., Any]) -> Pipeline:
        """Add a step (a plain function becomes a default `@step`); returns self for chaining."""
        if not isinstance(step, Step):
            if not callable(step):
                raise StepDefinitionError(f"add_step() takes a @step function, got {step!r}")
            from .step import step as make_step

            step = make_step(step)
        self.steps.append(step)
        return self

    def add_steps(self, steps: Iterable[Step | Callable[..., Any]]) -> Pipeline:
        """flowyml's `add_steps([...])`: `add_step` for each; returns self."""
        for one in steps:
            self.add_step(one)
        return self

    @classmethod
    def from_steps(cls, *steps: Step | Callable[..., Any], name: str, **kwargs: Any) -> Pipeline:
        """flowyml's `Pipeline.from_steps(load, train, name="training", enable_cache=False)`."""
        return cls(name, **kwargs).add_steps(steps)

    def graph(self, context: Mapping[str, Any] | None = None) -> Graph:
        """The DAG for a run with this context; rebuilt only when steps or context names change."""
        return self._graph_for(self._context(context, {}))

    def _graph_for(self, context: Mapping[str, Any]) -> Graph:
        signature = (*self.steps, frozenset(context))
        if self._graph is None or self._graph[0] != signature:
            self._graph = (signature, build_graph(self.steps, context))
        return self._graph[1]

    @property
    def step_groups(self) -> list[StepGroup]:
        """flowyml's step groups: steps of one `execution_group` that run together."""
        from .define.step_groups import step_groups

        return step_groups(self.graph(self.context))

    def order(self) -> list[str]:
        """Step names in the order a run executes them."""
        return [s.name for s in self.graph(self.context).order]

    # -- the cache -------------------------------------------------------------------------

    @property
    def store(self) -> CacheStore:
        """The cache store at `cache_dir`, opened on first use (and again if the dir changed)."""
        path = self._cache_path()
        if self._store is None or self._store.path != path:
            self._store = open_store(
                path, shared=self.shared, blobs=self.blobs, source_file=self.source_file
            )
        return self._store

    def close_store(self) -> None:
        """Close the store this pipeline holds open; the next use opens it afresh (after
        another process, or a person, changed what is on disk)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def invalidate(self, step: str, downstream: bool = True) -> list[str]:
        """Make the next run execute `step` (and, by default, everything that depends on it)."""
        graph = self.graph(self.context)
        names = graph.downstream([step]) if downstream else [graph.step(step).name]
        self.store.invalidate(names, pipeline=self.name)
        return names

    def pin(self, step: str) -> str:
        """Pin `step` of this pipeline to the entry its last run used; returns that key."""
        return self.store.pin(self.graph(self.context).step(step).name, pipeline=self.name)

    def unpin(self, step: str) -> bool:
        """Unpin `step` of this pipeline; False if it was not pinned."""
        return self.store.unpin(self.graph(self.context).step(step).name, pipeline=self.name)

    def _cache_path(self) -> Path:
        """The cache dir `cache_dir` names now: worked out again only when it, the working
        dir (a relative one) or HOME (`~`) changed, since a run asks three times."""
        asked = (os.fspath(self.cache_dir), os.getcwd(), os.environ.get("HOME"))
        if self._cache_at is None or self._cache_at[0] != asked:
            self._cache_at = (asked, store_path(self.cache_dir))  # "" is refused, not the cwd
        return self._cache_at[1]

    # -- running ---------------------------------------------------------------------------

    def run(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        on_event: Callable[[Event], None] | None = None,
        runner: StepRunner | None = None,
        **params: Any,
    ) -> RunResult:
        """Run every step in topological order, from the cache where nothing changed.

        Values come from `params`, then `context`, then the pipeline's own context. Raises a
        `PipelineDefinitionError` before anything runs if the DAG or a parameter is wrong;
        step failures do not raise: they are in `result.step_results` (or use
        `result.raise_for_failures()`).

        `runner` calls the steps that execute (default: inline, in this thread); cache hits
        are decided here and never reach it. A runner passed in is yours to `close()`.

        While the tool runs a pipeline file (`loader.load_file`), a `run()` the file makes goes
        to the tool's handler, which runs it (shown, with its settings) and returns the result.
        """
        script = script_runs.active()
        if script is not None and on_event is None and runner is None:
            return script.run(self, self._context(context, params))
        # The recorder goes first, so whoever sees RunFinished finds the record already on disk.
        # The cache dir is checked first, so a refused one fails the run before any step runs;
        # a run without the cache does not need one (its record is then not kept, and it says so).
        if self.enable_cache:
            ensure_cache_dir(self._cache_path())
        rates = self._rates(runner)
        recorder = RunRecorder(
            self._cache_path(),
            keep=self.keep_runs,
            rate=rates.rate,
            step_rates=rates.steps,
            lines=self._record_lines,
        )
        # Its bound method: calling the instance itself goes through `slot_tp_call`, several
        # times dearer, and this is called once per step.
        record = recorder.__call__
        sinks = [record, on_event] if on_event is not None else [record]
        sinks += self.observers
        with one_read_per_file():  # one version of each source file for the whole run
            result = self.executor(context, params=params, sinks=sinks, runner=runner).run()
        result.rate, result.step_rates = rates.rate, rates.steps
        return result

    def _rates(self, runner: StepRunner | None) -> RunRates:
        """Each step's rate for a run on `runner` (`rates.py`); a broken config warns, and
        the run goes on with this pipeline's and its steps' own rates only."""
        try:
            config = read_rate_config()
        except RateError as exc:
            warnings.warn(f"{exc}; this run's savings use no rate from it", stacklevel=3)
            config = NO_RATES
        asked = (
            tuple(self.steps),
            config,
            self.rate.cost_per_hour if self.rate is not None else None,
            self.currency,
            runner_kind(runner),
        )
        # Worked out once per set of steps and settings: a 1000-step pipeline's steps would
        # otherwise be looked at one by one on every run, fully cached ones included.
        if self._run_rates is None or self._run_rates[0] != asked:
            steps, _, rate, currency, kind = asked
            found = run_rates(
                steps, config, pipeline_rate=rate, pipeline_currency=currency, runner=kind
            )
            self._run_rates = (asked, found)
        return self._run_rates[1]

    def plan(self, context: Mapping[str, Any] | None = None, **params: Any) -> list[StepPlan]:
        """What `run` would do with each step and why, without running anything."""
        with one_read_per_file():
            return self.executor(context, params=params).plan()

    def executor(
        self,
        context: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        sinks: Sequence[Callable[[Event], None]] = (),
        runner: StepRunner | None = None,
    ) -> Executor:
        """The `Executor` of one run, built exactly as `run()` builds it, for tools that drive
        or inspect a run themselves (`run()` is this plus the run's bookkeeping)."""
        params = params or {}
        merged = self._context(context, params)
        graph = self._graph_for(merged)
        if _PARAMETERS_CHECKED not in graph.memo:  # a graph is built for one set of names
            _check_parameters(graph, merged)
            graph.memo[_PARAMETERS_CHECKED] = True
        store = None
        if self.enable_cache:
            try:
                store = self.store
            except CacheFullError as exc:  # a full disk must not fail a run that needs no cache
                warnings.warn(f"{exc}; this run goes on without the cache", stacklevel=3)
        if store is not None:  # the DAG's entries in one query (a shared tier: two trips)
            store.prefetch(self.name, (s.name for s in graph.order))  # read only if needed
        return Executor(
            pipeline=self.name,
            graph=graph,
            store=store,
            context=merged,
            on_event=_fan_out(sinks),
            code_hash_mode=self.code_hash_mode,
            source_file=self.source_file,
            runner=runner,
        )

    def _context(
        self, context: Mapping[str, Any] | None, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {**self.context, **(context or {}), **params}


_PARAMETERS_CHECKED = "parameters-checked"
"""Set in a graph's memo once every step's parameters were found: the graph is rebuilt when
the steps or the context's names change (`_graph_for`), and nothing else decides it."""


def _check_parameters(graph: Graph, context: Mapping[str, Any]) -> None:
    for step in graph.order:
        for param in step.params:
            if param not in context and param not in step.defaults:
                raise MissingInputError(
                    f"step {step.name!r} needs parameter {param!r}: it is not an input, the run "
                    f"context has no {param!r} and the function gives it no default; pass "
                    f"pipeline.run(context={{{param!r}: ...}}) or add it to inputs=[...]"
                )


def _fan_out(sinks: Sequence[Callable[[Event], None]]) -> Callable[[Event], None] | None:
    if not sinks:
        return None
    if len(sinks) == 1:
        return sinks[0]

    def emit(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return emit
