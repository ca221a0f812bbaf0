"""The `@step` decorator and the `Step` spec it produces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import FunctionType
from typing import Any

from .errors import StepDefinitionError

KeyFunction = Callable[..., str]


class CachePolicy(StrEnum):
    """How a step's cache key is made (flowyml's `cache=` values, plus a key function)."""

    CODE_HASH = "code_hash"
    INPUT_HASH = "input_hash"
    DISABLED = "disabled"
    KEY_FN = "key_fn"


@dataclass(frozen=True, eq=False)
class Step:
    """A function plus what the DAG and the cache need to know about it.

    Calling a `Step` calls the function, so decorated functions stay testable as plain code.
    """

    func: Callable[..., Any]
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    policy: CachePolicy
    key_fn: KeyFunction | None
    ttl: float | None
    bindings: tuple[tuple[str, str], ...]
    """(input name, parameter name) pairs: which parameter each input feeds."""
    params: tuple[str, ...]
    """Parameters not fed by inputs: they come from the run context, then from defaults."""
    defaults: frozenset[str]
    cache_label: str = ""
    """The strategy as a user wrote it: code_hash, input_hash, off or key_fn."""

    def __post_init__(self) -> None:
        label = "off" if self.policy is CachePolicy.DISABLED else self.policy.value
        object.__setattr__(self, "cache_label", label)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        flow = f"{list(self.inputs)} -> {list(self.outputs)}"
        return f"<Step {self.name} {flow} cache={self.cache_label}>"


def step(
    func: Callable[..., Any] | None = None,
    *,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    cache: str | bool | KeyFunction = "code_hash",
    ttl: float | None = None,
    name: str | None = None,
) -> Any:
    """Declare a pipeline step; works bare (`@step`) or with arguments (`@step(outputs=[...])`)."""

    def decorate(fn: Callable[..., Any]) -> Step:
        if isinstance(fn, Step):
            fn = fn.func
        if not callable(fn):
            raise StepDefinitionError(f"@step must decorate a function, got {type(fn).__name__}")
        return _make_step(fn, inputs, outputs, cache, ttl, name)

    if func is not None:
        return decorate(func)
    return decorate


def _make_step(
    fn: Callable[..., Any],
    inputs: Sequence[str] | None,
    outputs: Sequence[str] | None,
    cache: str | bool | KeyFunction,
    ttl: float | None,
    name: str | None,
) -> Step:
    step_name = name or getattr(fn, "__name__", None) or "step"
    if _is_generator(fn):
        raise StepDefinitionError(
            f"step {step_name!r} is a generator (it uses `yield`); a generator can be read only "
            "once, so it cannot be cached as an output: collect the items and return a list"
        )
    input_names = _names(inputs, "inputs", step_name)
    output_names = _names(outputs, "outputs", step_name) or (step_name,)
    policy, key_fn = _policy(cache, step_name)
    if ttl is not None and (not isinstance(ttl, (int, float)) or ttl <= 0):
        raise StepDefinitionError(
            f"step {step_name!r}: ttl must be a positive number of seconds, got {ttl!r}"
        )
    positional, defaults = _parameters(fn)
    bindings = _bind_inputs(step_name, input_names, positional)
    bound = {param for _, param in bindings}
    params = tuple(p for p in positional if p not in bound)
    made = Step(
        func=fn,
        name=step_name,
        inputs=input_names,
        outputs=output_names,
        policy=policy,
        key_fn=key_fn,
        ttl=float(ttl) if ttl is not None else None,
        bindings=bindings,
        params=params,
        defaults=defaults,
    )
    return made


_GENERATOR_FLAGS = 0x20 | 0x200  # CO_GENERATOR | CO_ASYNC_GENERATOR


def _plain(fn: Callable[..., Any]) -> bool:
    """A def whose signature is its code's: nothing re-states it (wraps, __signature__)."""
    return (
        type(fn) is FunctionType
        and "__wrapped__" not in fn.__dict__
        and "__signature__" not in fn.__dict__
    )


def _is_generator(fn: Callable[..., Any]) -> bool:
    if _plain(fn):
        return bool(fn.__code__.co_flags & _GENERATOR_FLAGS)
    import inspect

    return inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)


def _parameters(fn: Callable[..., Any]) -> tuple[list[str], frozenset[str]]:
    """(named parameters, those with a default), as `inspect.signature` would give them.

    Read off the code object for a plain def: a pipeline file of many steps is decorated on
    every `flowyml-tui run`, and `inspect.signature` costs several times more per step.
    """
    if _plain(fn):
        code = fn.__code__
        n_positional = code.co_argcount
        names = list(code.co_varnames[: n_positional + code.co_kwonlyargcount])
        with_default = names[n_positional - len(fn.__defaults__ or ()) : n_positional]
        return names, frozenset((*with_default, *(fn.__kwdefaults__ or {})))
    import inspect

    signature = inspect.signature(fn)
    named = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return (
        [p.name for p in signature.parameters.values() if p.kind in named],
        frozenset(
            p.name
            for p in signature.parameters.values()
            if p.default is not inspect.Parameter.empty
        ),
    )


def _names(value: Sequence[str] | None, what: str, step_name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    names = tuple(value)
    for item in names:
        if not isinstance(item, str) or not item.isidentifier():
            raise StepDefinitionError(
                f"step {step_name!r}: {what} must be identifiers, got {item!r}"
            )
    if len(set(names)) != len(names):
        raise StepDefinitionError(f"step {step_name!r}: {what} repeat a name: {list(names)}")
    return names


def _policy(cache: str | bool | KeyFunction, step_name: str) -> tuple[CachePolicy, Any]:
    if cache is False or cache is None:
        return CachePolicy.DISABLED, None
    if cache is True or cache == "code_hash":
        return CachePolicy.CODE_HASH, None
    if cache == "input_hash":
        return CachePolicy.INPUT_HASH, None
    if callable(cache):
        return CachePolicy.KEY_FN, cache
    raise StepDefinitionError(
        f"step {step_name!r}: cache={cache!r} is not a strategy; use 'code_hash', "
        "'input_hash', False, or a function (step, inputs, context) -> str"
    )


def _bind_inputs(
    step_name: str, inputs: tuple[str, ...], positional: list[str]
) -> tuple[tuple[str, str], ...]:
    """An input feeds the parameter of the same name, else the next free parameter in order."""
    taken = {name for name in inputs if name in positional}
    free = [p for p in positional if p not in taken]
    bindings = []
    for input_name in inputs:
        if input_name in positional:
            bindings.append((input_name, input_name))
        elif free:
            bindings.append((input_name, free.pop(0)))
        else:
            raise StepDefinitionError(
                f"step {step_name!r}: input {input_name!r} has no parameter to feed; "
                f"the function takes {positional}"
            )
    return tuple(bindings)
