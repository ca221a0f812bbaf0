"""The arguments a flowyml `condition=` is called with, gathered as flowyml 2.2.1 does.

flowyml's `LocalExecutor.execute_step` builds one dict: the step's context parameters, then
every output produced so far (asset paths such as `data/processed` included), then the keys of
any dict output not already there, then the step's own inputs by parameter name; the condition
gets the entries its signature names. Nothing loads for a condition that takes no arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..step import Step


def condition_arguments(
    step: Step, context: Mapping[str, Any], done: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Keyword arguments for `step.condition`; `done()` gives the outputs produced so far."""
    assert step.condition is not None
    if getattr(step.condition, "wants_run_view", False):  # a translated `If`: sees the run
        return {"context": context, "outputs": done()}
    wanted = _wanted(step.condition)
    if not wanted:
        return {}
    kwargs: dict[str, Any] = {
        param: context[param] for param in step.params if param in context and param in wanted
    }
    bound = {param for _, param in step.bindings}
    outputs = done()
    if not wanted <= bound:
        kwargs.update({name: value for name, value in outputs.items() if name in wanted})
        for value in outputs.values():
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if key in wanted and key not in kwargs:
                        kwargs[key] = item
    if bound & wanted:
        for name, param in step.bindings:
            if param in wanted:
                kwargs[param] = outputs[name] if name in outputs else context[name]
    return kwargs


def planned_condition(
    step: Step,
    context: Mapping[str, Any],
    known: Callable[[], dict[str, Any]],
    unknown: set[str],
) -> bool | None:
    """What `step.condition` says before a run (`Pipeline.plan`), or None if it cannot tell.

    It cannot when the condition reads an output of a step that will run (`unknown`), or a
    name that is neither in the context nor a known output (a key of a dict output not made
    yet, perhaps).
    """
    assert step.condition is not None
    if getattr(step.condition, "wants_run_view", False):
        if unknown:
            return None
        return bool(step.condition(**condition_arguments(step, context, known)))
    wanted = _wanted(step.condition)
    bound = {param: name for name, param in step.bindings}
    if any(bound[param] in unknown for param in wanted & set(bound)):
        return None
    loose = wanted - set(bound) - set(context)
    if loose and (loose & unknown or (unknown and not loose <= set(known()))):
        return None
    return bool(step.condition(**condition_arguments(step, context, known)))


def _wanted(condition: Callable[..., Any]) -> set[str]:
    try:
        parameters = inspect.signature(condition).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
