"""flowyml's `Context`: run parameters with dot access and parent inheritance.

A `Mapping`, so `Pipeline(name, context=Context(...))` and `pipeline.run(context=ctx)` take
it where they take a dict; each step gets the entries its parameters name, as in flowyml.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


class Context(Mapping[str, Any]):
    """`Context(learning_rate=0.001, epochs=10)`; `ctx.epochs`, `ctx["epochs"]`."""

    def __init__(self, **params: Any) -> None:
        self._params = dict(params)
        self._parent: Context | None = None

    def _merged(self) -> dict[str, Any]:
        merged = self._parent._merged() if self._parent is not None else {}
        merged.update(self._params)
        return merged

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"Context has no parameter {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        if key in self._params:
            return self._params[key]
        if self._parent is not None:
            return self._parent[key]
        raise KeyError(f"Context has no parameter {key!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())

    def to_dict(self) -> dict[str, Any]:
        return self._merged()

    def update(self, data: Mapping[str, Any]) -> None:
        self._params.update(data)

    def inherit(self, **overrides: Any) -> Context:
        """A child context: its own values first, then this one's."""
        child = Context(**overrides)
        child._parent = self
        return child

    def inject_params(self, func: Callable[..., Any]) -> dict[str, Any]:
        """The entries `func`'s parameters name (what flowyml passes a step)."""
        import inspect

        names = inspect.signature(func).parameters
        return {name: value for name, value in self._merged().items() if name in names}

    def __repr__(self) -> str:
        return f"Context({', '.join(f'{k}={v!r}' for k, v in self._merged().items())})"


def context(**params: Any) -> Context:
    """flowyml's shorthand: `context(learning_rate=0.001)` is `Context(learning_rate=0.001)`."""
    return Context(**params)
