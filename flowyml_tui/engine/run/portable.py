"""Tasks and outcomes as bytes that travel to another process or machine, with clear errors.

A pipeline file is imported by path, not by a name another process could import, so its
functions (and those of the modules beside it) are pickled by value.
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections import ChainMap
from typing import Any

import msgspec

from ..errors import FlowymlError
from .runner import StepOutcome, StepTask
from .shipping import RECEIVED, function_bytes

_BY_VALUE: set[str] = set()


def dump_task(task: StepTask, where: str) -> bytes:
    """The task as bytes, its function's with it; a task that cannot travel is an error
    naming the step."""
    digest, function, fields = task_parts(task, where)
    return pack_task(digest, function, fields)


def task_parts(task: StepTask, where: str) -> tuple[bytes, bytes, bytes]:
    """(digest of the function's bytes, those bytes, the rest of the task), for a runner that
    sends a worker the function only when it does not hold it yet (`shipping`)."""
    import cloudpickle

    _register_pipeline_modules(cloudpickle)
    fields = msgspec.structs.asdict(task)
    del fields["func"]
    try:
        digest, function = function_bytes(task.func, _dumps_by_value)
        if type(task.kwargs) is dict and (not task.kwargs or _plain_data(task.kwargs)):
            rest = pickle.dumps(fields, pickle.HIGHEST_PROTOCOL)  # nothing of the pipeline's
        else:
            rest = _dumps_by_value(fields)
    except Exception as exc:
        raise FlowymlError(
            f"step {task.step!r} cannot be sent to {where}: its function or an argument "
            f"cannot be pickled ({type(exc).__name__}: {exc}). Defined in `__main__` or "
            "closing over a lock, file or connection? Move it into a module, pass plain "
            f"values, or {_IN_ONE_PROCESS}"
        ) from exc
    return digest, function, rest


def pack_task(digest: bytes, function: bytes | None, fields: bytes) -> bytes:
    """One task's bytes; `function` None when the worker holds it by `digest` already."""
    return pickle.dumps((digest, function, fields), pickle.HIGHEST_PROTOCOL)


def _dumps_by_value(value: Any) -> bytes:
    import cloudpickle

    buffer = io.BytesIO()
    _pickler(cloudpickle)(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


_IN_ONE_PROCESS = "run the pipeline in one process (`--jobs 1` and no `--dask`)"
"""The way out of pickling, for either remote runner: `--jobs 1` alone still uses Dask."""


def load_task(payload: bytes) -> StepTask:
    """The task `dump_task` or `pack_task` made, on the worker; its function unpickled once
    per worker (`shipping.RECEIVED`)."""
    digest, function, fields = pickle.loads(payload)
    func = RECEIVED.function(digest, function, pickle.loads)
    return StepTask(func=func, **pickle.loads(fields))


_PICKLER: Any = None


def _pickler(cloudpickle: Any) -> Any:
    """cloudpickle's pickler, keeping each function's file name (cloudpickle drops it), so a
    step that fails on a worker shows its own file and lines in its traceback."""
    global _PICKLER
    if _PICKLER is None:
        base = cloudpickle.Pickler
        reduce_code = base.dispatch_table[types.CodeType]

        def code_with_filename(code: types.CodeType) -> Any:
            rebuild, args = reduce_code(code)
            return rebuild, tuple(code.co_filename if a == "<dynamic-code>" else a for a in args)

        class _Pickler(base):  # type: ignore[misc, valid-type]
            dispatch_table = ChainMap({types.CodeType: code_with_filename}, base.dispatch_table)

        _PICKLER = _Pickler
    return _PICKLER


def portable_outcome(outcome: StepOutcome) -> bytes:
    """The outcome as bytes; a value or exception that cannot travel becomes a clear error.

    A value of plain data goes by plain `pickle`, five times faster than cloudpickle on a small
    outcome. Anything else goes by cloudpickle: plain `pickle` would import a class's module
    by name to check it, and the module of a class from the pipeline file is that file, which
    must never run again in a worker.
    """
    if outcome.error is None and outcome.held is None and _plain_data(outcome.value):
        return pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
    import cloudpickle

    try:
        return cloudpickle.dumps(outcome)
    except Exception as exc:
        if outcome.error is None:
            error: BaseException = FlowymlError(
                f"step {outcome.step!r} returned a value that cannot be sent back from the "
                f"worker ({type(exc).__name__}: {exc}); return picklable values, or "
                f"{_IN_ONE_PROCESS}"
            )
            trace = ""
        else:
            error = RuntimeError(f"{type(outcome.error).__name__}: {outcome.error}")
            trace = outcome.traceback
        return cloudpickle.dumps(
            StepOutcome(
                outcome.step,
                error=error,
                traceback=trace,
                logs=outcome.logs,
                duration_seconds=outcome.duration_seconds,
                calls=outcome.calls,
            )
        )


_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes})
_PLAIN_ITEMS = 256
"""How many items `_plain_data` looks at before it lets cloudpickle decide."""


def _plain_data(value: Any) -> bool:
    """Builtin scalars, and lists, tuples and dicts of them (up to `_PLAIN_ITEMS` in all)."""
    left = [value]
    seen = 0
    while left:
        item = left.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is not list and kind is not tuple and kind is not dict:
            return False
        seen += len(item)
        if seen > _PLAIN_ITEMS:
            return False
        if kind is dict:
            left.extend(item.keys())
            left.extend(item.values())
        else:
            left.extend(item)
    return True


_SCANNED: tuple[int, str, int] = (0, "", 0)
"""sys.modules' size and newest name, and how many pipeline folders, at the last scan: a
scan per task cost a millisecond or more on every step sent to a worker."""


_FOLDERS: set[Any] | None = None
"""The loader's set of pipeline folders (filled in place), once imported: importing it again
on every task cost more than the check it feeds."""


def _register_pipeline_modules(cloudpickle: Any) -> None:
    global _SCANNED, _FOLDERS
    if _FOLDERS is None:
        from ..load.loader import _PIPELINE_FOLDERS

        _FOLDERS = _PIPELINE_FOLDERS
    if not _FOLDERS:
        return
    seen = (len(sys.modules), next(reversed(sys.modules), ""), len(_FOLDERS))
    if seen == _SCANNED:
        return
    _SCANNED = seen
    folders = tuple(str(f) + "/" for f in _FOLDERS)
    for name, module in list(sys.modules.items()):
        if name in _BY_VALUE:
            continue
        file = getattr(module, "__file__", None)
        if file and file.startswith(folders) and "site-packages" not in file:
            cloudpickle.register_pickle_by_value(module)
            _BY_VALUE.add(name)
