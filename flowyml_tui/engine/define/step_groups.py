"""flowyml's `pipeline.step_groups`: steps of one `execution_group` that run together.

As flowyml 2.2.1's `StepGroupAnalyzer` computes them: the steps of a group, in run order,
split wherever a step outside the group lies on a path between two of them (such a group
is named `name_0`, `name_1` ...). Their resources are not aggregated here (ours are kept as
given, not parsed); with the real flowyml installed a translated pipeline's groups are
flowyml's own, resources included.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..step import Step
from .graph import Graph


@dataclasses.dataclass(frozen=True)
class StepGroup:
    group_name: str
    steps: list[Step]
    execution_order: list[str]
    aggregated_resources: Any = None


def step_groups(graph: Graph) -> list[StepGroup]:
    by_group: dict[str, list[Step]] = {}
    for step in graph.order:
        if step.execution_group:
            by_group.setdefault(step.execution_group, []).append(step)
    groups = []
    for name, members in by_group.items():
        runs = _consecutive_runs(members, graph)
        for index, run in enumerate(runs):
            label = name if len(runs) == 1 else f"{name}_{index}"
            groups.append(StepGroup(label, run, [s.name for s in run]))
    return groups


def _consecutive_runs(members: list[Step], graph: Graph) -> list[list[Step]]:
    names = {s.name for s in members}
    runs: list[list[Step]] = []
    for step in members:
        if runs and not _outsider_between(runs[-1][-1].name, step.name, graph, names):
            runs[-1].append(step)
        else:
            runs.append([step])
    return runs


def _outsider_between(first: str, second: str, graph: Graph, group: set[str]) -> bool:
    """A step outside `group` that depends on `first` and that `second` depends on."""
    after_first = set(graph.downstream([first])) - {first}
    before_second = _ancestors(second, graph)
    return bool((after_first & before_second) - group)


def _ancestors(name: str, graph: Graph) -> set[str]:
    seen: set[str] = set()
    frontier = [name]
    while frontier:
        for parent in graph.upstream[frontier.pop()]:
            if parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return seen
