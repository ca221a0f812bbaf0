"""flowyml's sub-pipelines (`add_sub_pipeline`, `sub_pipeline()`), as nested steps of ours.

Each step of the child becomes a step of the parent named `SUB/STEP` (`SUB` is the
sub-pipeline step's name, `sub:CHILD` by default, as flowyml names it), cached on its own.
Names are wired as flowyml's docs describe: the parent's data reaches the child (an input the
child does not make itself is read from the parent, renamed by `input_mapping` parent ->
child), and the child's outputs reach the parent (renamed by `output_mapping` child ->
parent). flowyml 2.2.1's own run never passes the parent's data to the child; the docs'
behaviour is the one kept here. The child's context values fill in the parent's missing ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ..step import Step


def is_sub_pipeline(flowyml_step: Any) -> bool:
    return type(flowyml_step).__name__ == "SubPipelineStep"


def nested_steps(sub: Any, translate_child: Callable[[Any], list[Step]]) -> list[Step]:
    """The child's steps (its own sub-pipelines expanded too), renamed and rewired."""
    child_steps = translate_child(sub.sub_pipeline)
    made_inside = {name for s in child_steps for name in s.outputs}
    to_parent = dict(sub.output_mapping or {})
    from_parent = {child: parent for parent, child in (sub.input_mapping or {}).items()}

    def input_name(name: str) -> str:
        if name in made_inside:
            return to_parent.get(name, name)
        return from_parent.get(name, name)

    nested = []
    for step in child_steps:
        nested.append(
            msgspec.structs.replace(
                step,
                name=f"{sub.name}/{step.name}",
                inputs=tuple(input_name(n) for n in step.inputs),
                bindings=tuple((input_name(n), param) for n, param in step.bindings),
                outputs=tuple(to_parent.get(n, n) for n in step.outputs),
            )
        )
    return nested
