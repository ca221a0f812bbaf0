"""A step function's bytes made once and sent to a worker once, for as long as they are exact.

cloudpickle sends a pipeline file's function by value: its code, and the values of the
globals and closure cells it reads. Making those bytes cost the driver more than the rest of a
trivial step, and unpickling them cost the worker as much again, on every task. Here:

- the driver keeps a function's bytes while everything they were made from is provably the
  same: the same code, closure contents and referenced globals (by identity), each of them
  immutable data, a module, or a function or class pickled by reference, and no module
  imported since. Anything else (a global list, a helper pickled by value) is pickled again
  each time, as before;
- the bytes are named by their digest; a worker keeps the functions it has unpickled by
  digest (`Received`), so a task whose function a worker already has carries only the digest,
  and a `--jobs` driver knows which worker has which (`Shipped`, the mirror of its `Received`).

An edited step is another function object (its file is loaded again), so other bytes and
another digest: it is shipped again. A worker that died and was replaced has an empty
`Received`, and its driver-side mirror is new too.
"""

from __future__ import annotations

import operator
import sys
import threading
import types
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from xxhash import xxh3_128

KEPT_PER_WORKER = 1024
"""Functions a worker keeps by digest (least recently used dropped first)."""

_IMMUTABLE = frozenset({type(None), bool, int, float, complex, str, bytes, range})


class _Made:
    __slots__ = ("digest", "names", "payload", "state")

    def __init__(
        self, state: tuple[Any, ...], names: tuple[str, ...], digest: bytes, payload: bytes
    ) -> None:
        self.state, self.names, self.digest, self.payload = state, names, digest, payload


_MADE: weakref.WeakKeyDictionary[Any, _Made] = weakref.WeakKeyDictionary()


def function_bytes(func: Any, dumps: Callable[[Any], bytes]) -> tuple[bytes, bytes]:
    """(digest, bytes) of `func` pickled by `dumps`, reused while provably still exact."""
    state, names = None, ()
    if type(func) is types.FunctionType:  # else: not weak-referenceable, never kept
        made = _MADE.get(func)
        code = func.__code__
        # The globals a code object reads are a function of that very (immutable) object.
        if made is not None and made.state[1][0] is code:
            names = made.names
        else:
            names = tuple(_global_names(code))
        state = _state(func, names)
        if state is not None and made is not None and _same(made.state, state):
            return made.digest, made.payload
    payload = dumps(func)
    digest = xxh3_128(payload).digest()
    if state is not None:
        _MADE[func] = _Made(state, names, digest, payload)
    return digest, payload


def _state(func: Any, global_names: tuple[str, ...]) -> tuple[Any, ...] | None:
    """What `func`'s bytes are made of, its parts compared by identity (`_same`); None when
    identity would not prove the bytes unchanged (a mutable value among them, or not a plain
    function). `global_names`: the globals its code reads."""
    if type(func) is not types.FunctionType or func.__dict__:
        return None
    code = func.__code__
    parts: list[Any] = [
        code,
        func.__name__,
        func.__qualname__,
        func.__module__,
        func.__doc__,
        func.__annotations__,
    ]
    for value in func.__annotations__.values():
        if not _frozen(value):
            return None
        parts.append(value)
    for value in (func.__defaults__, func.__kwdefaults__):
        if value is not None and not _frozen(value):
            return None
        parts.append(value)
    for cell in func.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            value = cell
        if value is not cell and not _frozen(value):
            return None
        parts.append(value)
    names = func.__globals__
    for name in global_names:
        value = names.get(name, _MISSING)
        if value is not _MISSING and not _frozen(value):
            return None
        parts.append(value)
    # A submodule imported since may be in the bytes now: sys.modules' size, by equality.
    return len(sys.modules), tuple(parts)


def _same(before: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """The same state: equal module count, and every part the very same object."""
    if before[0] != now[0] or len(before[1]) != len(now[1]):
        return False
    return all(map(operator.is_, before[1], now[1]))


_MISSING = object()


def _frozen(value: Any) -> bool:
    """Same identity proves same bytes: immutable data, a module, or a function or class
    pickled by reference (a plain function of a module loaded by path goes by value, and its
    own globals are not looked at here)."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return True
    if kind is tuple or kind is frozenset:
        return all(_frozen(item) for item in value)
    if kind is types.ModuleType or kind is types.BuiltinFunctionType:
        return True
    if isinstance(value, type) or kind is types.FunctionType:
        return _by_reference(value)
    return False


def _by_reference(value: Any) -> bool:
    import cloudpickle.cloudpickle as internals

    try:
        return bool(internals._should_pickle_by_reference(value))
    except Exception:
        return False


def _global_names(code: types.CodeType) -> Any:
    import cloudpickle.cloudpickle as internals

    return internals._extract_code_globals(code)


class Shipped:
    """In the driver: the digests one worker holds, kept exactly as its `Received` keeps them
    (both see the same tasks in the same order)."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: OrderedDict[bytes, None] = OrderedDict()

    def needs(self, digest: bytes) -> bool:
        """Whether the task must carry the function's bytes; counts it as sent either way."""
        held = self._held
        if digest in held:
            held.move_to_end(digest)
            return False
        held[digest] = None
        if len(held) > KEPT_PER_WORKER:
            held.popitem(last=False)
        return True


class Received:
    """In a worker: functions by digest, each unpickled once. Thread-safe: a Dask worker runs
    several tasks at once."""

    __slots__ = ("_held", "_lock")

    def __init__(self) -> None:
        self._held: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def function(self, digest: bytes, payload: bytes | None, loads: Callable[[bytes], Any]) -> Any:
        """The function named `digest`, unpickled from `payload` unless held already. A
        function that failed to unpickle is held as its error, raised each time."""
        with self._lock:
            found = self._held.get(digest, _MISSING)
            if found is not _MISSING:
                self._held.move_to_end(digest)
        if found is _MISSING:
            if payload is None:
                raise LookupError(
                    "the driver sent a step function by digest only, and this worker does not "
                    "hold it; run again (if it repeats, report it)"
                )
            try:
                found = loads(payload)
            except Exception as exc:
                found = _Failed(exc)
            with self._lock:
                self._held[digest] = found
                if len(self._held) > KEPT_PER_WORKER:
                    self._held.popitem(last=False)
        if isinstance(found, _Failed):
            raise found.error
        return found


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


RECEIVED = Received()
"""This process's functions, when it is a worker."""
