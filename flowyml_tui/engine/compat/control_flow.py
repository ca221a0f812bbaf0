"""flowyml's `If(condition, then_step, else_step)` control flow, as conditional steps of ours.

flowyml 2.2.1 asks each `If` after every step: once its condition can be answered (it reads
`ctx.steps["name"].outputs["output"]` and `ctx.params`), the chosen branch runs, once. Here
each branch becomes a step with a `condition=` that asks the same question, run after the
steps the condition names (found as strings in its code; all the other steps if it names
none). A false answer skips the branch with reason "condition false", as any condition does.
Its orchestrator acts on nothing else given to `add_control_flow`, so neither do we.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import CodeType
from typing import Any

import msgspec

from ..errors import PipelineLoadError
from ..step import Step


@dataclasses.dataclass(frozen=True)
class StepShape:
    """What flowyml's `ctx.steps[name].outputs` is made of for one step."""

    declared: tuple[str, ...]
    """The `outputs=` flowyml was given (ours default to the step's name when empty)."""
    ours: tuple[str, ...]


class BranchCondition:
    """An `If`'s condition asked for one branch: true for `then_step`, false for `else_step`."""

    wants_run_view = True
    """`condition_arguments` hands it the run context and the outputs made so far."""

    def __init__(
        self, condition: Callable[[Any], Any], chosen: bool, shapes: Mapping[str, StepShape]
    ) -> None:
        self.condition = condition
        self.chosen = chosen
        self.shapes = dict(shapes)
        self.__qualname__ = f"If({_name(condition)}) is {chosen}"

    def __call__(self, context: Mapping[str, Any], outputs: Mapping[str, Any]) -> bool:
        answer = bool(self.condition(RunView(context, outputs, self.shapes)))
        return answer == self.chosen


class RunView:
    """flowyml's `ExecutionContext`: `ctx.steps[name].outputs[output]`, `ctx.params`.

    `ctx["name"]` (flowyml's documented fluent style, which its own context lacks) reads a
    context value, else an output by name.
    """

    def __init__(
        self,
        context: Mapping[str, Any],
        outputs: Mapping[str, Any],
        shapes: Mapping[str, StepShape],
    ) -> None:
        self.params = dict(context)
        self._outputs = outputs
        self.steps = {
            name: _StepOutputs(_flowyml_outputs(shape, outputs))
            for name, shape in shapes.items()
            if all(o in outputs for o in shape.ours)
        }

    def __getitem__(self, key: str) -> Any:
        if key in self.params:
            return self.params[key]
        return _wrap(self._outputs[key])


class _StepOutputs:
    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs


class _AttrDict(dict):  # type: ignore[type-arg]
    """A dict output, also by attribute (`ctx.steps["s"].outputs["m"].accuracy`), as flowyml."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _wrap(value: Any) -> Any:
    return _AttrDict(value) if isinstance(value, dict) else value


def _flowyml_outputs(shape: StepShape, outputs: Mapping[str, Any]) -> dict[str, Any]:
    if shape.declared:
        return {name: _wrap(outputs[name]) for name in shape.declared}
    value = outputs[shape.ours[0]]
    return {k: _wrap(v) for k, v in value.items()} if isinstance(value, dict) else {}


def branch_steps(
    pipeline: str,
    flows: Sequence[Any],
    regular: Sequence[Step],
    translate_one: Callable[[Any], Step],
    shapes: Mapping[str, StepShape],
) -> list[Step]:
    """The steps `flows` add to `regular`: each `If` branch, conditional on its `If`."""
    names = [s.name for s in regular]
    made: dict[str, Step] = {}
    for flow in flows:
        kind = type(flow).__name__
        if kind != "If":
            print(
                f"flowyml-tui: pipeline {pipeline!r}: {kind}(...) given to add_control_flow is "
                "ignored, as flowyml 2.2.1 ignores it (its orchestrator acts only on If); "
                "call it inside a step instead",
                file=sys.stderr,
            )
            continue
        after = tuple(n for n in names if n in set(_strings(flow.condition))) or tuple(names)
        for chosen, branch in ((True, flow.then_step), (False, flow.else_step)):
            if branch is None:
                continue
            ours = translate_one(branch)
            if ours.name in names:
                continue  # a regular step too: flowyml runs it in its turn, and not again
            if ours.name in made:
                raise PipelineLoadError(
                    f"flowyml pipeline {pipeline!r}: step {ours.name!r} is a branch of two "
                    "If(...) flows, which flowyml-tui does not translate yet; give each "
                    "branch its own step"
                )
            if ours.condition is not None:
                raise PipelineLoadError(
                    f"flowyml pipeline {pipeline!r}: If(...) branch {ours.name!r} has its own "
                    "condition=, which flowyml-tui does not combine with the If's yet; fold "
                    "one condition into the other"
                )
            condition = BranchCondition(flow.condition, chosen, shapes)
            made[ours.name] = msgspec.structs.replace(ours, condition=condition, after=after)
    return list(made.values())


def _strings(fn: Any) -> Iterator[str]:
    """String constants in a function's code and the code nested in it (lambdas, comps)."""
    code = getattr(fn, "__code__", None)
    stack: list[CodeType] = [code] if isinstance(code, CodeType) else []
    while stack:
        for const in stack.pop().co_consts:
            if isinstance(const, str):
                yield const
            elif isinstance(const, CodeType):
                stack.append(const)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__
