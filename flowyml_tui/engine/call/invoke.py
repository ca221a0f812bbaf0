"""The call of one step's function: output captured, coroutines awaited, generators refused.

A module-level function of plain arguments, so a thread or process pool can run it too.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

from ..errors import StepOutputError
from .capture import LogSink, capture_output
from .event_loop import StepLoop


def call_step(
    name: str,
    func: Callable[..., Any],
    kwargs: Mapping[str, Any],
    sink: LogSink | None,
    loop: StepLoop | None = None,
) -> Any:
    """Call `func(**kwargs)` with its prints and log records sent to `sink`; return its value.

    Without a sink nothing is captured: output goes wherever the process sends it.

    An `async def` step (or any function returning a coroutine) is awaited on `loop`, the
    run's shared event loop; without one, on a loop made for this call and closed after it.
    """
    with capture_output(sink) if sink is not None else nullcontext():
        returned = func(**kwargs)
        if inspect.iscoroutine(returned):
            if loop is not None:
                returned = loop.run(returned)
            else:
                own = StepLoop()
                try:
                    returned = own.run(returned)
                finally:
                    own.close()
    if inspect.isgenerator(returned) or inspect.isasyncgen(returned):
        raise StepOutputError(
            f"step {name!r} returned a generator, which cannot be cached as an output "
            "(it can be read only once); return a list instead, e.g. `return list(...)`"
        )
    return returned
