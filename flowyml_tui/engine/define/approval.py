"""Approval steps: a step that passes its input on only once a person (or a rule) says yes.

flowyml documents `approval(name, approver=None, timeout_seconds=3600, auto_approve_if=None)`
as a step that pauses until approved; its 2.2.1 code raises `AttributeError` when one is made
and, if it could run, would read a yes from the terminal. Here the step runs when
`auto_approve_if(value)` is true or its name is approved for this run (`flowyml-tui run
--approve NAME`, or the workbench's approve key, which runs again with it approved); else it
fails with `ApprovalRequired`, naming both ways. An approved step's value is cached like any
other, so the next run with the same input does not ask again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

APPROVED_ENV = "FLOWYML_TUI_APPROVED"
"""Comma-separated approval names granted to the run (inherited by its worker processes)."""
WAITING_MARK = "waits for approval"
"""In the failure text of a step still waiting: how the workbench recognises it."""


class ApprovalRequired(Exception):
    """The approval step was neither approved nor auto-approved."""


def grant(names: Iterable[str]) -> None:
    """Approve `names` for the runs of this process and the workers it starts."""
    granted = sorted(approved() | set(names))
    os.environ[APPROVED_ENV] = ",".join(granted)


def approved() -> set[str]:
    return {n for n in os.environ.get(APPROVED_ENV, "").split(",") if n}


def gate(
    name: str, auto_approve_if: Callable[..., Any] | None, with_input: bool
) -> Callable[..., Any]:
    """The step function: the input passed on, once approved."""

    def decide(value: Any = None) -> Any:
        if auto_approve_if is not None and auto_approve_if(value):
            return value
        if name in approved():
            return value
        raise ApprovalRequired(
            f"step {name!r} {WAITING_MARK}: approve it in the workbench, or run again "
            f"with `flowyml-tui run FILE --approve {name}`"
        )

    if with_input:

        def approval_gate(value: Any) -> Any:
            return decide(value)

    else:

        def approval_gate() -> Any:  # type: ignore[misc]
            return decide()

    approval_gate.__qualname__ = f"approval({name!r})"
    return approval_gate


def approval(
    name: str = "approval",
    approver: str | None = None,
    timeout_seconds: int = 3600,
    auto_approve_if: Callable[..., Any] | None = None,
    **step_kwargs: Any,
) -> Any:
    """flowyml's `approval(...)`: an approval step (`inputs=[...]`, `outputs=[...]` as for a
    step; the first input is what it passes on). `approver` and `timeout_seconds` are kept
    as tags, not acted on."""
    from ..step import step

    func, inputs, tags = approval_parts(name, approver, auto_approve_if, step_kwargs)
    return step(func, name=name, inputs=inputs or None, tags=tags, **step_kwargs)


def approval_parts(
    name: str,
    approver: str | None,
    auto_approve_if: Callable[..., Any] | None,
    step_kwargs: dict[str, Any],
) -> tuple[Callable[..., Any], list[str], dict[str, str]]:
    """(the gate, the one input it passes on, its tags) of an approval step, ours or
    flowyml's; takes `inputs` and `tags` out of `step_kwargs`."""
    inputs = list(step_kwargs.pop("inputs", None) or ())
    tags = dict(step_kwargs.pop("tags", None) or {})
    if approver is not None:
        tags["approver"] = approver
    tags["approval"] = "required"
    return gate(name, auto_approve_if, with_input=bool(inputs)), inputs[:1], tags
