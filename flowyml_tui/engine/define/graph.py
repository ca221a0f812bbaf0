"""The DAG: built from matching input names to output names, checked before anything runs."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from functools import cached_property

import msgspec

from ..errors import CycleError, DuplicateOutputError, MissingInputError, UnknownStepError
from ..events import StepInfo
from ..step import Step, context_defaults


class Graph(msgspec.Struct, frozen=True, dict=True):  # dict: for `memo`
    """Steps in topological order, with who produces what and who depends on whom."""

    order: tuple[Step, ...]
    producers: Mapping[str, str]
    """output name -> step name"""
    upstream: Mapping[str, tuple[str, ...]]
    downstream_of: Mapping[str, tuple[str, ...]]

    @cached_property
    def memo(self) -> dict[object, object]:
        """Scratch space that lives as long as the graph (the executor keeps each step's
        fixed key prefix here, so a cached run does not rebuild it every run)."""
        return {}

    @cached_property
    def infos(self) -> tuple[StepInfo, ...]:
        """The static shape of every step, in order: what `RunStarted` sends."""
        infos = []
        for step in self.order:
            code = getattr(step.func, "__code__", None)
            infos.append(
                StepInfo(
                    name=step.name,
                    inputs=step.inputs,
                    outputs=step.outputs,
                    upstream=self.upstream[step.name],
                    cache=step.cache_label,
                    ttl=step.ttl,
                    source_file=code.co_filename if code else None,
                    source_line=code.co_firstlineno if code else None,
                    implicit_inputs=step.implicit_inputs,
                    retry=step.retry,
                    timeout=step.timeout,
                    condition=_label(step.condition),
                    tags=dict(step.tags),
                    resources=_label(step.resources),
                    execution_group=step.execution_group,
                    context_keys=context_defaults(step),
                )
            )
        return tuple(infos)

    @cached_property
    def output_names(self) -> dict[str, None]:
        """Every output name, in step order: a dict, so asking for one is not a scan. Shared by
        every run's `Outputs`, which only reads it (built per run, it was work per step)."""
        return dict.fromkeys(name for step in self.order for name in step.outputs)

    @cached_property
    def outputs_of(self) -> dict[str, tuple[str, ...]]:
        """Step name -> its outputs (read-only, shared like `output_names`)."""
        return {step.name: step.outputs for step in self.order}

    @cached_property
    def by_name(self) -> dict[str, Step]:
        """Each step by its name: `step` is asked once per executed step, and a scan of the
        order made a cold 10,000-step run quadratic (`benchmarks/bench_scale.py`)."""
        return {step.name: step for step in self.order}

    def step(self, name: str) -> Step:
        """The step called `name`: looked up, not searched for."""
        found = self.by_name.get(name)
        if found is not None:
            return found
        known = ", ".join(s.name for s in self.order)
        raise UnknownStepError(f"no step named {name!r}; the pipeline has: {known}")

    def downstream(self, names: Iterable[str]) -> list[str]:
        """The given steps and everything that depends on them, in topological order."""
        wanted = set(names)
        for name in wanted:
            self.step(name)
        frontier = list(wanted)
        while frontier:
            for child in self.downstream_of[frontier.pop()]:
                if child not in wanted:
                    wanted.add(child)
                    frontier.append(child)
        return [s.name for s in self.order if s.name in wanted]


def _label(value: object) -> str | None:
    """How a condition or a resources spec is shown: its name, or its repr, short."""
    if value is None:
        return None
    name = getattr(value, "__qualname__", None)
    if isinstance(name, str) and callable(value):
        return name
    text = repr(value)
    return text if len(text) <= 120 else text[:119] + "…"


def build_graph(steps: Iterable[Step], context_names: Iterable[str] = ()) -> Graph:
    """Order the steps, or raise a clear error for duplicates, missing inputs and cycles."""
    steps = list(steps)
    context_names = set(context_names)
    by_name: dict[str, Step] = {}
    producers: dict[str, str] = {}
    for s in steps:
        if s.name in by_name:
            raise DuplicateOutputError(
                f"two steps are named {s.name!r}; give one another name with @step(name=...)"
            )
        by_name[s.name] = s
        for output in s.outputs:
            if output in producers:
                raise DuplicateOutputError(
                    f"output {output!r} is produced by both {producers[output]!r} and {s.name!r}; "
                    "rename one of the outputs"
                )
            producers[output] = s.name

    steps = [_with_implicit_inputs(s, producers, context_names) for s in steps]
    by_name = {s.name: s for s in steps}
    upstream: dict[str, tuple[str, ...]] = {}
    for s in steps:
        parents = []
        for input_name in s.inputs:
            producer = producers.get(input_name)
            if producer is None:
                if input_name in context_names:
                    continue
                raise MissingInputError(
                    f"step {s.name!r} needs input {input_name!r}, but no step outputs it and the "
                    f"run context has no {input_name!r}; add a step with outputs=[{input_name!r}] "
                    f"or pass it in the context"
                )
            if producer not in parents:
                parents.append(producer)
        for before in s.after:
            if before not in by_name:
                raise MissingInputError(
                    f"step {s.name!r} must run after {before!r}, but the pipeline has no step "
                    f"of that name; it has: {', '.join(by_name)}"
                )
            if before not in parents:
                parents.append(before)
        upstream[s.name] = tuple(parents)

    downstream_of: dict[str, list[str]] = {name: [] for name in by_name}
    for name, parents in upstream.items():
        for parent in parents:
            downstream_of[parent].append(name)

    order = _topological(by_name, upstream, downstream_of)
    return Graph(
        order=tuple(by_name[name] for name in order),
        producers=producers,
        upstream=upstream,
        downstream_of={k: tuple(v) for k, v in downstream_of.items()},
    )


def _with_implicit_inputs(
    step: Step, producers: Mapping[str, str], context_names: set[str]
) -> Step:
    """flowyml's wiring: a parameter named like another step's output is fed from it.

    A context value of that name wins, as in flowyml, where context parameters are applied
    after the outputs.
    """
    implicit = tuple(
        p
        for p in step.params
        if p in producers and producers[p] != step.name and p not in context_names
    )
    if not implicit:
        return step
    return msgspec.structs.replace(
        step,
        inputs=(*step.inputs, *implicit),
        bindings=(*step.bindings, *((p, p) for p in implicit)),
        params=tuple(p for p in step.params if p not in implicit),
        implicit_inputs=implicit,
    )


def _topological(
    by_name: dict[str, Step],
    upstream: dict[str, tuple[str, ...]],
    downstream_of: dict[str, list[str]],
) -> list[str]:
    """Kahn's algorithm, keeping the order steps were added where the DAG allows it."""
    waiting = {name: len(parents) for name, parents in upstream.items()}
    position = {name: i for i, name in enumerate(by_name)}
    ready = [(position[name], name) for name in by_name if waiting[name] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for child in downstream_of[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (position[child], child))
    if len(order) < len(by_name):
        raise CycleError(
            f"the steps form a cycle: {' -> '.join(_find_cycle(upstream, order))}; "
            "a step cannot depend on its own output, directly or through others"
        )
    return order


def _find_cycle(upstream: dict[str, tuple[str, ...]], done: list[str]) -> list[str]:
    remaining = {name for name in upstream if name not in set(done)}
    start = min(remaining)
    path = [start]
    seen = {start}
    current = start
    while True:
        current = next(p for p in upstream[current] if p in remaining)
        if current in seen:
            cycle = [*path[path.index(current) :], current]
            return list(reversed(cycle))
        path.append(current)
        seen.add(current)
