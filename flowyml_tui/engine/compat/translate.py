"""Pipelines built with the real flowyml package, rebuilt as ours so our engine runs them.

A file that does `from flowyml import Pipeline, step` with flowyml 2.2.1 installed makes
flowyml's own objects. The loader hands each `flowyml.Pipeline` (or `VersionedPipeline`, which
wraps one as `.pipeline`) to `translate`: its steps become our `Step`s with every keyword
flowyml stores (inputs, outputs, cache, retry, timeout, condition, tags, resources,
execution_group), its `Context` becomes the run context, its `If` control flows become
conditional steps (`control_flow`). flowyml's own `run()` is never called while the tool runs
a file (`flowyml_runs_diverted`), so its UI server, metadata store writes and experiment
tracking never start.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..call.scope import current_directory
from ..load import script_runs
from ..pipeline import Pipeline
from ..step import Step, step
from .nested import is_sub_pipeline, nested_steps

_CLASSES = ("Pipeline", "VersionedPipeline")


def is_flowyml_pipeline(value: Any) -> bool:
    """A `flowyml.Pipeline` or `VersionedPipeline` made by the real package."""
    cls = type(value)
    return cls.__name__ in _CLASSES and cls.__module__.startswith("flowyml.")


def translate(value: Any, path: Path) -> Pipeline:
    """Our `Pipeline` doing what flowyml's `value` describes; a clear error for what we lack."""
    inner = value.pipeline if type(value).__name__ == "VersionedPipeline" else value
    ours = Pipeline(
        inner.name,
        enable_cache=bool(getattr(inner, "enable_cache", True)),
        context=_context(inner.context),
    )
    version = getattr(value, "version", None)
    if version is not None:
        ours.flowyml_options["version"] = version
    flowyml_steps = [s for s in _steps(inner) if not is_sub_pipeline(s)]
    for one in _steps(inner):
        if is_sub_pipeline(one):
            ours.add_steps(nested_steps(one, lambda child: _child_steps(child, ours)))
        else:
            ours.add_step(translate_step(one, inner.name, path))
    flows = list(getattr(inner, "control_flows", None) or ())
    if flows:
        from .control_flow import StepShape, branch_steps  # only files with an If need it

        by_name = {s.name: s for s in ours.steps}
        shapes = {
            f.name: StepShape(tuple(f.outputs or ()), by_name[f.name].outputs)
            for f in flowyml_steps
        }
        ours.add_steps(
            branch_steps(inner.name, flows, ours.steps, lambda b: _branch(b, inner.name), shapes)
        )
    return ours


def _branch(branch: Any, pipeline: str) -> Step:
    """An `If` branch: a flowyml step, or a plain function (flowyml makes it a step)."""
    if isinstance(branch, Step):
        return branch
    if callable(getattr(branch, "func", None)) and hasattr(branch, "outputs"):
        return translate_step(branch, pipeline)
    return step(branch)


def _child_steps(child: Any, parent: Pipeline) -> list[Step]:
    """A sub-pipeline's steps translated (its own sub-pipelines nested); its context values
    fill in the parent's missing ones."""
    translated = translate(child, Path(parent.source_file or "."))
    for key, value in translated.context.items():
        parent.context.setdefault(key, value)
    return translated.steps


def translate_step(flowyml_step: Any, pipeline: str, source: Path = Path(".")) -> Step:
    """Our `Step` with the keywords flowyml's `Step` stores."""
    func = flowyml_step.func
    kind = type(flowyml_step).__name__
    if kind == "MapTaskStep":
        from .map_task import mapping

        func = mapping(func, flowyml_step.name, flowyml_step.map_config.concurrency)
    elif kind == "DynamicStep":
        declared = tuple(flowyml_step.outputs or ())
        func = expanding(flowyml_step._dynamic_func, declared, source)
    return step(
        func,
        name=flowyml_step.name,
        inputs=list(flowyml_step.inputs or ()) or None,
        outputs=list(flowyml_step.outputs or ()) or None,
        cache=flowyml_step.cache,
        retry=flowyml_step.retry or 0,
        timeout=flowyml_step.timeout,
        condition=flowyml_step.condition,
        tags=dict(flowyml_step.tags or {}),
        resources=flowyml_step.resources,
        execution_group=flowyml_step.execution_group,
    )


def _steps(inner: Any) -> list[Any]:
    """The steps flowyml's `build()` would use: `auto_discover=True` reads its registry."""
    steps = list(inner.steps)
    if not steps and getattr(inner, "_auto_discover", False):
        from flowyml.core.step import get_registered_steps

        steps = list(get_registered_steps(pipeline=inner.name) or get_registered_steps())
    return steps


def _context(flowyml_context: Any) -> dict[str, Any]:
    if flowyml_context is None:
        return {}
    to_dict = getattr(flowyml_context, "to_dict", None)
    return dict(to_dict() if callable(to_dict) else flowyml_context)


def reset_step_registry() -> None:
    """Empty flowyml's global step registry, so re-importing a file does not raise.

    flowyml refuses a second `@step` of the same name made by a different object, which is
    what every re-import of an edited file makes.
    """
    module = sys.modules.get("flowyml.core.step")
    clear = getattr(module, "clear_step_registry", None)
    if callable(clear):
        clear()


@contextlib.contextmanager
def flowyml_runs_diverted(path: Path) -> Iterator[None]:
    """While `path` runs, flowyml's `Pipeline.run()` runs the translated pipeline on our engine.

    flowyml is imported first (the file is about to import it anyway) so its classes can be
    patched; its own `run()` would start its UI server and run the pipeline outside our engine.
    The pipeline's `step_groups` are computed by flowyml's own `build()`, as its `run()` does.
    A `run()` made while no file is being run (inside a step, say) is flowyml's own.
    """
    try:
        from flowyml.core import pipeline as core_pipeline
        from flowyml.core import versioning
    except ImportError:
        yield
        return
    classes = (core_pipeline.Pipeline, versioning.VersionedPipeline)
    saved = {cls: cls.__dict__["run"] for cls in classes}

    def diverted(self: Any, *args: Any, context: Any = None, **kwargs: Any) -> Any:
        script = script_runs.active()
        if script is None:
            return saved[type(self) if type(self) in saved else classes[0]](
                self, *args, context=context, **kwargs
            )
        from .hooks import FlowymlHooks

        _build_groups(self)
        ours = translate(self, path)
        hooks = FlowymlHooks(self)
        ours.observers.append(hooks)
        _LAST_RUN[self] = ours
        result = script.run(ours, {**ours.context, **_context(context)})
        hooks.finished(result)
        return result

    saved_methods = {name: core_pipeline.Pipeline.__dict__[name] for name in OUR_METHODS}
    approvals = _approval_modules()
    saved_approvals = [module.approval for module in approvals]
    for module in approvals:
        module.approval = flowyml_approval
    for cls in classes:
        cls.run = diverted  # type: ignore[method-assign]
    for name in OUR_METHODS:
        setattr(core_pipeline.Pipeline, name, _answered_by_ours(name, path))
    try:
        yield
    finally:
        for cls, run in saved.items():
            cls.run = run  # type: ignore[method-assign]
        for name, method in saved_methods.items():
            setattr(core_pipeline.Pipeline, name, method)
        for module, saved_approval in zip(approvals, saved_approvals, strict=True):
            module.approval = saved_approval


def _approval_modules() -> list[Any]:
    import flowyml
    from flowyml.core import approval as core_approval

    return [flowyml, core_approval]


def flowyml_approval(
    name: str = "approval",
    approver: str | None = None,
    timeout_seconds: int = 3600,
    auto_approve_if: Any = None,
    **step_kwargs: Any,
) -> Any:
    """flowyml's `approval(...)` as its docs describe it (its 2.2.1 code raises when called):
    a flowyml `Step` running our approval gate, translated like any other step."""
    from flowyml.core.step import Step as FlowymlStep

    from ..define.approval import approval_parts

    func, inputs, tags = approval_parts(name, approver, auto_approve_if, step_kwargs)
    return FlowymlStep(func, name=name, inputs=inputs, tags=tags, **step_kwargs)


OUR_METHODS = ("cache_stats", "check_cache", "invalidate_cache", "rerun", "dry_run")
"""flowyml `Pipeline` methods about its cache and runs: answered from ours while a file runs."""

_LAST_RUN: weakref.WeakKeyDictionary[Any, Pipeline] = weakref.WeakKeyDictionary()
"""Each flowyml pipeline's translation as last run (with the tool's cache settings)."""


def _answered_by_ours(name: str, path: Path) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        ours = _LAST_RUN.get(self) or translate(self, path)
        return getattr(ours, name)(*args, **kwargs)

    method.__name__ = name
    return method


def _build_groups(value: Any) -> None:
    """flowyml's `build()`, for its `step_groups`; what it refuses, our run reports itself."""
    inner = value.pipeline if type(value).__name__ == "VersionedPipeline" else value
    with contextlib.suppress(Exception):
        inner.build()


def uses_flowyml(path: Path) -> bool:
    """The file imports flowyml (a cheap text check before paying for `import flowyml`)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return _IMPORTS_FLOWYML.search(text) is not None


_IMPORTS_FLOWYML = re.compile(r"^\s*(?:from|import)\s+flowyml(?![\w])", re.MULTILINE)


# flowyml's `@dynamic` steps: the function returns a pipeline, which then runs on our engine as
# a nested run with the parent run's cache dir, so each of its steps is cached and the nested
# run is recorded as its own run. The step's value is the nested run's outputs: the one
# declared output's value, a dict of the declared ones, or (none declared, or not all made) a
# dict of every output. A failed nested step fails the dynamic step; a function that returns
# anything else returns it as the step's value, as flowyml does. Here, not in a module of its
# own: it translates what it gets, and translating makes it.


def expanding(
    func: Callable[..., Any], declared: tuple[str, ...], path: Path
) -> Callable[..., Any]:
    @functools.wraps(func)  # the step's code identity and signature stay `func`'s
    def expand(*args: Any, **kwargs: Any) -> Any:
        made = func(*args, **kwargs)
        if is_flowyml_pipeline(made):
            made = translate(made, path)
        if not isinstance(made, Pipeline):
            return made
        calls = current_directory()
        if calls is not None:  # the running step's `<cache_dir>/calls`
            made.cache_dir = calls.parent
        result = made.run()
        result.raise_for_failures()
        outputs = list(result.outputs)
        if declared and all(name in outputs for name in declared):
            if len(declared) == 1:
                return result[declared[0]]
            return {name: result[name] for name in declared}
        return {name: result[name] for name in outputs}

    return expand
