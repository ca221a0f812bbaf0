"""The `@step` decorator and the `Step` spec it produces."""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from types import FunctionType
from typing import Any

import msgspec

from .errors import StepDefinitionError

KeyFunction = Callable[..., str]


class CachePolicy(StrEnum):
    """How a step's cache key is made (flowyml's `cache=` values, plus a key function)."""

    CODE_HASH = "code_hash"
    INPUT_HASH = "input_hash"
    DISABLED = "disabled"
    KEY_FN = "key_fn"


class Step(msgspec.Struct, frozen=True, eq=False, weakref=True):
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
    key_fn_args: int = 3
    """3: our `fn(step, inputs, context)`; 2: flowyml's `fn(inputs, context)`."""
    retry: int = 0
    """Calls after a failing one, waiting flowyml's backoff (1 s, 2 s, 4 s ...) between them."""
    timeout: float | None = None
    """Seconds a call may take before the step fails with "timed out after N s"."""
    condition: Callable[..., Any] | None = None
    """Called before the step, as flowyml does; false skips it and its downstream."""
    tags: Mapping[str, str] = {}
    resources: Any = None
    execution_group: str | None = None
    register: bool = True
    implicit_inputs: tuple[str, ...] = ()
    """Inputs the graph wired by parameter name (flowyml's way); set by `build_graph`."""
    after: tuple[str, ...] = ()
    """Steps that must finish first without feeding it: a translated flowyml `If` branch
    waits for the steps its condition reads."""
    reads: tuple[str, ...] = ()
    """Declared reads: glob patterns, relative to the pipeline file's folder, for files the
    audit hook cannot see (C-level readers such as pyarrow's or h5py's)."""
    track_reads: bool = True
    """Record the files, folders and databases the step reads, and re-run it when they change."""
    keep_children: bool = False
    """Processes the step starts outlive the run (a server it means to leave running);
    otherwise a headless run ends them when it ends."""
    cost_per_hour: float | None = None
    """What an hour of this step's compute costs (`rates.py`); None: the run's rate."""
    auto_cache: bool = False
    """`cache="auto"`: keyed as code_hash, but stored only while its measured cache costs
    less than recomputing it (`run/breakeven.py`)."""

    def __post_init__(self) -> None:
        label = "off" if self.policy is CachePolicy.DISABLED else self.policy.value
        if self.auto_cache:
            label = "auto"
        msgspec.structs.force_setattr(self, "cache_label", label)

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
    retry: int = 0,
    timeout: float | None = None,
    condition: Callable[..., Any] | None = None,
    tags: Mapping[str, str] | None = None,
    resources: Any = None,
    execution_group: str | None = None,
    pipeline: str | None = None,
    register: bool = True,
    reads: Sequence[str] | str | None = None,
    track_reads: bool = True,
    keep_children: bool = False,
    cost_per_hour: float | None = None,
) -> Any:
    """Declare a pipeline step; works bare (`@step`) or with arguments (`@step(outputs=[...])`).

    flowyml's keywords mean what they mean there: `retry`, `condition`, `tags`, `resources`,
    `execution_group`, `pipeline` (kept as the `pipeline` tag) and `register`; `timeout` is
    also enforced, which flowyml 2.2.1 does not do. `keep_children=True`: the processes the
    step starts are left running when the run ends (by default they are ended with it).

    The files a step reads are recorded and its result follows them; `reads=` declares glob
    patterns for readers the recording cannot see, `track_reads=False` turns recording off.

    `cost_per_hour=` prices this step's compute in the savings ledger (else the run's rate);
    `cache="auto"` keys it as `code_hash` and stores it only while caching pays (README).
    """

    def decorate(fn: Callable[..., Any]) -> Step:
        if isinstance(fn, Step):
            fn = fn.func
        if not callable(fn):
            raise StepDefinitionError(f"@step must decorate a function, got {type(fn).__name__}")
        made = _make_step(fn, inputs, outputs, cache, ttl, name)
        made = _with_reads(made, reads, track_reads)
        made = _with_flowyml_options(
            made, retry, timeout, condition, tags, resources, execution_group, pipeline, register
        )
        if keep_children:
            made = msgspec.structs.replace(made, keep_children=True)
        if cost_per_hour is not None:
            made = msgspec.structs.replace(made, cost_per_hour=_rate(made.name, cost_per_hour))
        return made

    if func is not None:
        return decorate(func)
    return decorate


def _rate(name: str, cost_per_hour: object) -> float:
    if (
        isinstance(cost_per_hour, bool)
        or not isinstance(cost_per_hour, int | float)
        or not math.isfinite(cost_per_hour)
        or cost_per_hour < 0
    ):
        raise StepDefinitionError(
            f"step {name!r}: cost_per_hour must be a number >= 0 (what an hour of its compute "
            f"costs), got {cost_per_hour!r}"
        )
    return float(cost_per_hour)


def _with_reads(made: Step, reads: Sequence[str] | str | None, track_reads: bool) -> Step:
    if reads is None and track_reads is True:
        return made
    patterns = (reads,) if isinstance(reads, str) else tuple(reads or ())
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise StepDefinitionError(
                f"step {made.name!r}: reads= takes glob patterns such as 'data/*.parquet', "
                f"got {pattern!r}"
            )
    if not isinstance(track_reads, bool):
        raise StepDefinitionError(
            f"step {made.name!r}: track_reads must be True or False, got {track_reads!r}"
        )
    return msgspec.structs.replace(made, reads=patterns, track_reads=track_reads)


def _with_flowyml_options(
    made: Step,
    retry: int,
    timeout: float | None,
    condition: Callable[..., Any] | None,
    tags: Mapping[str, str] | None,
    resources: Any,
    execution_group: str | None,
    pipeline: str | None,
    register: bool,
) -> Step:
    name = made.name
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
        raise StepDefinitionError(
            f"step {name!r}: retry must be a whole number of extra attempts (0 or more), "
            f"got {retry!r}"
        )
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        raise StepDefinitionError(
            f"step {name!r}: timeout must be a positive number of seconds, got {timeout!r}"
        )
    if condition is not None and not callable(condition):
        raise StepDefinitionError(
            f"step {name!r}: condition must be a function returning true or false, "
            f"got {condition!r}"
        )
    merged = {str(k): str(v) for k, v in (tags or {}).items()}
    if pipeline is not None:
        merged["pipeline"] = pipeline  # where flowyml keeps it
    if not (retry or timeout or condition or merged or resources or execution_group) and register:
        return made
    return msgspec.structs.replace(
        made,
        retry=retry,
        timeout=float(timeout) if timeout is not None else None,
        condition=condition,
        tags=merged,
        resources=resources,
        execution_group=execution_group,
        register=bool(register),
    )


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
    auto = cache == "auto"
    policy, key_fn = (CachePolicy.CODE_HASH, None) if auto else _policy(cache, step_name)
    if ttl is not None and (not isinstance(ttl, (int, float)) or ttl <= 0):
        raise StepDefinitionError(
            f"step {step_name!r}: ttl must be a positive number of seconds, got {ttl!r}"
        )
    key_fn_args = _key_fn_args(key_fn, step_name) if key_fn is not None else 3
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
        key_fn_args=key_fn_args,
        auto_cache=auto,
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


DEFAULT_SHOWN = 40
"""Characters of a default's repr the context editor shows; longer ones end in `…`."""


def context_defaults(step: Step) -> dict[str, str | None]:
    """Each parameter the run context feeds the step, with its default as code shows it (a
    repr, cut to `DEFAULT_SHOWN`), None when it has none: what `C` lists as the keys to set."""
    if not step.params:
        return {}
    found: dict[str, Any] = {}
    fn = step.func
    if _plain(fn):
        code = fn.__code__
        n_positional = code.co_argcount
        given = fn.__defaults__ or ()
        with_default = code.co_varnames[n_positional - len(given) : n_positional]
        found.update(zip(with_default, given, strict=True))
        found.update(fn.__kwdefaults__ or {})
    else:
        import inspect

        with contextlib.suppress(TypeError, ValueError):
            for name, param in inspect.signature(fn).parameters.items():
                if param.default is not inspect.Parameter.empty:
                    found[name] = param.default
    shown: dict[str, str | None] = {}
    for name in step.params:
        if name not in found:
            shown[name] = None
            continue
        text = repr(found[name])
        cut = DEFAULT_SHOWN - 1
        shown[name] = text if len(text) <= DEFAULT_SHOWN else text[:cut] + "…"
    return shown


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


def _key_fn_args(key_fn: KeyFunction, step_name: str) -> int:
    """How many arguments a key function takes: ours has three, flowyml's two."""
    import inspect

    try:
        signature = inspect.signature(key_fn)
    except (TypeError, ValueError):
        return 3
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return 3
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(positional) in (2, 3):
        return len(positional)
    raise StepDefinitionError(
        f"step {step_name!r}: the cache key function takes {len(positional)} arguments; "
        "write it as fn(step, inputs, context) or, as flowyml does, fn(inputs, context)"
    )


_ASSET_NAME = re.compile(r"[A-Za-z_][\w.-]*(?:/[A-Za-z_0-9][\w.-]*)*")


def _names(value: Sequence[str] | None, what: str, step_name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    names = tuple(value)
    for item in names:
        if not isinstance(item, str) or not _ASSET_NAME.fullmatch(item):
            raise StepDefinitionError(
                f"step {step_name!r}: {what} must be identifiers or asset-style paths "
                f"such as 'data/raw', got {item!r}"
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
        "'input_hash', 'auto', True, False, or a function (step, inputs, context) -> str"
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
