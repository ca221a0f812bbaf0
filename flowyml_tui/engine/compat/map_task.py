"""flowyml's `@map_task` as its docs describe it: the function is called once per item.

flowyml 2.2.1's orchestrator calls a map task's function once with the whole list (its
`MapTaskStep.__call__`, which maps, is never used by a run). Here the step maps: each item is
its own call through a call cache (`CachePrimitive`, on disk under the pipeline's cache dir)
named after the function's code identity, so when one item of the input list changes the
step runs again but only that item's call is made; an edit of the function makes them all
again. Up to `concurrency` items run at once in threads, as in flowyml. The step's output is
the list of results, in the input's order.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..hashing.identity import code_identity
from ..primitive.core import CachePrimitive


def mapping(func: Callable[..., Any], name: str, concurrency: int) -> Callable[..., Any]:
    """A step function over a collection, calling `func(item, *rest, **kw)` per item."""

    first = next(iter(inspect.signature(func).parameters), None)

    @functools.wraps(func)  # the step's code identity and signature stay `func`'s
    def over_items(*rest: Any, **kwargs: Any) -> list[Any]:
        # the engine passes parameters by name: the first one is the collection
        if first is not None and first in kwargs:
            collection = kwargs.pop(first)
        else:
            collection, *more = rest
            rest = tuple(more)
        items = list(collection) if isinstance(collection, (list, tuple)) else [collection]
        per_item = CachePrimitive(
            _ItemCall(func),
            ttl_seconds=None,
            max_size=max(1000, 4 * len(items)),
            name=f"map_task {name} {code_identity(func).hash[:16]}",
        )

        def one(item: Any) -> Any:
            return per_item.call((item, rest, kwargs))

        if concurrency <= 1 or len(items) <= 1:
            return [one(item) for item in items]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:  # counted for the step
            futures = [pool.submit(contextvars.copy_context().run, one, item) for item in items]
            return [future.result() for future in futures]

    return over_items


class _ItemCall:
    """The primitive a map task's call cache wraps: one item, with the step's other args."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, data: tuple[Any, tuple[Any, ...], dict[str, Any]], context: Any) -> Any:
        item, rest, kwargs = data
        return self.func(item, *rest, **kwargs)
