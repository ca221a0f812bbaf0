"""Value fingerprints: one stable digest of a value, for cache keys.

`fingerprint(value)` streams a canonical, type-tagged encoding of a value into one xxh3-128
hasher, so equal values give equal keys in every process (no `str()`, no `repr()`, no
`hash()`). `register` teaches it a type.

numpy and pandas are never imported here: their handlers are registered the first time a
value from an already-imported numpy/pandas reaches the generic fallback.
"""

from __future__ import annotations

import copyreg
import dataclasses
import datetime as _dt
import enum
import functools
import os
import sys
import threading
import types
import uuid
from array import array
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePath
from pickle import PickleBuffer
from struct import Struct
from typing import Any

from xxhash import xxh3_128

__all__ = ["Unfingerprintable", "fingerprint", "register"]

_U64 = Struct("<Q").pack
_I64 = Struct("<q").pack
_F64 = Struct("<d").pack
_C128 = Struct("<dd").pack
_MAX_INLINE = 4096
_PACKED_MIN = 8


class Unfingerprintable(TypeError):
    """A value that has no stable fingerprint, so it cannot be part of a cache key."""


class _Ctx:
    """Per-call state: containers being walked (for cycles) and how to treat code objects."""

    __slots__ = ("active", "on_code")

    def __init__(self, on_code: Callable[[Any], bytes | None] | None = None) -> None:
        self.active: dict[int, int] = {}
        # In code-identity mode, functions/classes met inside a constant are reported here and
        # fed by reference; the identity walk hashes their code itself.
        self.on_code = on_code


def fingerprint(value: Any) -> str:
    """The xxh3-128 hex digest of a value's canonical encoding, stable across processes."""
    h = xxh3_128()
    _feed_top(value, h, _Ctx())
    return h.hexdigest()


def _feed_top(value: Any, h: Any, ctx: _Ctx) -> None:
    try:
        _feed(value, h, ctx)
    except RecursionError:
        raise Unfingerprintable(
            f"cannot fingerprint a value of type {_type_name(type(value))}: it is nested too "
            "deeply; give the step a key function"
        ) from None


def _type_name(cls: type) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


@functools.lru_cache(maxsize=4096)
def _type_tag(cls: type) -> bytes:
    name = _type_name(cls).encode("utf-8", "surrogatepass")
    return b"~" + _U64(len(name)) + name


def _text(h: Any, tag: bytes, data: bytes) -> None:
    if len(data) <= _MAX_INLINE:
        h.update(tag + _U64(len(data)) + data)
    else:
        h.update(tag + _U64(len(data)))
        h.update(data)


def _enter(value: Any, h: Any, ctx: _Ctx) -> bool:
    """Mark a container as being walked; a container met again inside itself is a back-reference."""
    key = id(value)
    depth = ctx.active.get(key)
    if depth is not None:
        h.update(b"@" + _U64(depth))
        return False
    ctx.active[key] = len(ctx.active)
    return True


def _leave(value: Any, ctx: _Ctx) -> None:
    del ctx.active[id(value)]


@functools.singledispatch
def _feed(value: Any, h: Any, ctx: _Ctx) -> None:
    _feed_object(value, h, ctx)


register = _feed.register
"""Teach `fingerprint` a type (Hamilton style), for values the generic walk gets wrong or slow.

    @register(MyType)
    def _(value, hasher, ctx):
        hasher.update(b"MyType" + fingerprint(value.key_part).encode())
"""


def _subclass(value: Any, h: Any, ctx: _Ctx, current: Callable[..., Any]) -> bool:
    """Handle a subclass of a builtin; True if it was fully fed by a more specific handler."""
    if _LAZY and _register_lazy():
        impl = _feed.dispatch(type(value))
        if impl is not current:
            impl(value, h, ctx)
            return True
    if isinstance(value, enum.Enum):
        _feed_enum(value, h, ctx)
        return True
    h.update(_type_tag(type(value)))
    return False


@_feed.register(type(None))
def _feed_none(value: None, h: Any, ctx: _Ctx) -> None:
    h.update(b"N")


@_feed.register(bool)
def _feed_bool(value: bool, h: Any, ctx: _Ctx) -> None:
    h.update(b"T" if value else b"F")


@_feed.register(int)
def _feed_int(value: int, h: Any, ctx: _Ctx) -> None:
    if type(value) is not int and _subclass(value, h, ctx, _feed_int):
        return
    if -(1 << 63) <= value < (1 << 63):
        h.update(b"i" + _I64(value))
    else:
        raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
        h.update(b"I" + _U64(len(raw)) + raw)


@_feed.register(float)
def _feed_float(value: float, h: Any, ctx: _Ctx) -> None:
    if type(value) is not float and _subclass(value, h, ctx, _feed_float):
        return
    h.update(b"f" + _F64(value))


@_feed.register(complex)
def _feed_complex(value: complex, h: Any, ctx: _Ctx) -> None:
    if type(value) is not complex and _subclass(value, h, ctx, _feed_complex):
        return
    h.update(b"c" + _C128(value.real, value.imag))


@_feed.register(str)
def _feed_str(value: str, h: Any, ctx: _Ctx) -> None:
    if type(value) is not str and _subclass(value, h, ctx, _feed_str):
        return
    _text(h, b"s", value.encode("utf-8", "surrogatepass"))


@_feed.register(bytes)
def _feed_bytes(value: bytes, h: Any, ctx: _Ctx) -> None:
    if type(value) is not bytes and _subclass(value, h, ctx, _feed_bytes):
        return
    _text(h, b"b", value)


@_feed.register(bytearray)
def _feed_bytearray(value: bytearray, h: Any, ctx: _Ctx) -> None:
    if type(value) is not bytearray:
        h.update(_type_tag(type(value)))
    h.update(b"B" + _U64(len(value)))
    h.update(value)


@_feed.register(memoryview)
def _feed_memoryview(value: memoryview, h: Any, ctx: _Ctx) -> None:
    fmt = value.format.encode()
    h.update(b"m" + _U64(len(fmt)) + fmt + _U64(value.ndim))
    for dim in value.shape or ():
        h.update(_U64(dim))
    h.update(value if value.c_contiguous else value.tobytes())


@_feed.register(PickleBuffer)
def _feed_picklebuffer(value: PickleBuffer, h: Any, ctx: _Ctx) -> None:
    _feed_memoryview(memoryview(value), h, ctx)


def _feed_items(items: list[Any] | tuple[Any, ...], h: Any, ctx: _Ctx) -> None:
    """Items in order; long runs of str, float or int go in as one packed update."""
    if len(items) >= _PACKED_MIN:
        first = type(items[0])
        if first is str and all(type(x) is str for x in items):
            encoded = [x.encode("utf-8", "surrogatepass") for x in items]
            h.update(b"\x01s" + _native(array("Q", map(len, encoded))))
            h.update(b"".join(encoded))
            return
        if first is float and all(type(x) is float for x in items):
            h.update(b"\x01f" + _native(array("d", items)))
            return
        if first is int and all(type(x) is int for x in items):
            try:
                packed = array("q", items)
            except OverflowError:
                pass
            else:
                h.update(b"\x01i" + _native(packed))
                return
    h.update(b"\x00")
    feed = _feed
    for item in items:
        feed(item, h, ctx)


def _native(packed: array[Any]) -> bytes:
    if sys.byteorder == "big":  # pragma: no cover - keep digests equal on every machine
        packed.byteswap()
    return packed.tobytes()


def _feed_sequence(tag: bytes, value: list[Any] | tuple[Any, ...], h: Any, ctx: _Ctx) -> None:
    if not _enter(value, h, ctx):
        return
    h.update(tag + _U64(len(value)))
    _feed_items(value, h, ctx)
    _leave(value, ctx)


@_feed.register(list)
def _feed_list(value: list[Any], h: Any, ctx: _Ctx) -> None:
    if type(value) is not list and _subclass(value, h, ctx, _feed_list):
        return
    _feed_sequence(b"[", value, h, ctx)
    _feed_instance_dict(value, h, ctx)


@_feed.register(tuple)
def _feed_tuple(value: tuple[Any, ...], h: Any, ctx: _Ctx) -> None:
    if type(value) is not tuple and _subclass(value, h, ctx, _feed_tuple):
        return
    _feed_sequence(b"(", value, h, ctx)
    _feed_instance_dict(value, h, ctx)


def _digest(value: Any, ctx: _Ctx) -> bytes:
    sub = xxh3_128()
    _feed(value, sub, ctx)
    return sub.digest()


def _feed_mapping(value: dict[Any, Any], h: Any, ctx: _Ctx) -> None:
    """Canonical order for mappings: by key when keys are all str (or all int), else by digest."""
    h.update(b"{" + _U64(len(value)))
    keys = list(value)
    kinds = set(map(type, keys))
    if len(kinds) == 1 and (str in kinds or int in kinds):
        keys.sort()
        h.update(b"\x03")
        feed = _feed
        for k in keys:
            feed(k, h, ctx)
            feed(value[k], h, ctx)
        return
    digests = []
    for k, v in value.items():
        sub = xxh3_128()
        _feed(k, sub, ctx)
        _feed(v, sub, ctx)
        digests.append(sub.digest())
    digests.sort()
    h.update(b"\x02" + b"".join(digests))


@_feed.register(dict)
def _feed_dict(value: dict[Any, Any], h: Any, ctx: _Ctx) -> None:
    cls = type(value)
    if cls is not dict:
        if _subclass(value, h, ctx, _feed_dict):
            return
        if isinstance(value, defaultdict):
            _feed(value.default_factory, h, ctx)
    if not _enter(value, h, ctx):
        return
    _feed_mapping(value, h, ctx)
    _leave(value, ctx)
    if cls is not dict and cls is not defaultdict and cls is not Counter:
        _feed_instance_dict(value, h, ctx)


@_feed.register(OrderedDict)
def _feed_ordereddict(value: OrderedDict[Any, Any], h: Any, ctx: _Ctx) -> None:
    h.update(_type_tag(type(value)))
    if not _enter(value, h, ctx):
        return
    h.update(b"O" + _U64(len(value)))
    for k, v in value.items():
        _feed(k, h, ctx)
        _feed(v, h, ctx)
    _leave(value, ctx)


def _feed_unordered(tag: bytes, value: set[Any] | frozenset[Any], h: Any, ctx: _Ctx) -> None:
    if not _enter(value, h, ctx):
        return
    h.update(tag + _U64(len(value)))
    items = list(value)
    if items and (all(type(x) is str for x in items) or all(type(x) is int for x in items)):
        items.sort()
        _feed_items(items, h, ctx)
    else:
        h.update(b"\x02" + b"".join(sorted(_digest(item, ctx) for item in items)))
    _leave(value, ctx)


@_feed.register(set)
def _feed_set(value: set[Any], h: Any, ctx: _Ctx) -> None:
    if type(value) is not set and _subclass(value, h, ctx, _feed_set):
        return
    _feed_unordered(b"<", value, h, ctx)


@_feed.register(frozenset)
def _feed_frozenset(value: frozenset[Any], h: Any, ctx: _Ctx) -> None:
    if type(value) is not frozenset and _subclass(value, h, ctx, _feed_frozenset):
        return
    _feed_unordered(b">", value, h, ctx)


def _feed_instance_dict(value: Any, h: Any, ctx: _Ctx) -> None:
    """Attributes a builtin subclass carries besides its items (a namedtuple has none)."""
    attrs = getattr(value, "__dict__", None)
    if attrs:
        h.update(b"+")
        _feed_dict(attrs, h, ctx)


@_feed.register(enum.Enum)
@_feed.register(enum.IntEnum)
@_feed.register(enum.IntFlag)
@_feed.register(enum.StrEnum)
def _feed_enum(value: enum.Enum, h: Any, ctx: _Ctx) -> None:
    h.update(b"E" + _type_tag(type(value)))
    name = value.name
    _feed(name, h, ctx)
    _feed(value.value, h, ctx)


_DATETIME_TYPES = (_dt.datetime, _dt.time, _dt.date, _dt.timedelta)


@_feed.register(_dt.datetime)
@_feed.register(_dt.time)
def _feed_datetime(value: _dt.datetime | _dt.time, h: Any, ctx: _Ctx) -> None:
    if type(value) not in _DATETIME_TYPES:
        _feed_object(value, h, ctx)  # pandas.Timestamp and co: nanoseconds live in their state
        return
    h.update(b"t" + _type_tag(type(value)) + _I64(value.fold))
    _feed(value.replace(tzinfo=None).isoformat(), h, ctx)
    _feed(value.tzinfo, h, ctx)


@_feed.register(_dt.date)
def _feed_date(value: _dt.date, h: Any, ctx: _Ctx) -> None:
    if type(value) is not _dt.date:
        _feed_object(value, h, ctx)
        return
    h.update(b"d" + _I64(value.toordinal()))


@_feed.register(_dt.timedelta)
def _feed_timedelta(value: _dt.timedelta, h: Any, ctx: _Ctx) -> None:
    if type(value) is not _dt.timedelta:
        _feed_object(value, h, ctx)
        return
    h.update(b"D" + _I64(value.days) + _I64(value.seconds) + _I64(value.microseconds))


@_feed.register(Decimal)
def _feed_decimal(value: Decimal, h: Any, ctx: _Ctx) -> None:
    sign, digits, exponent = value.as_tuple()
    h.update(b"$" + _type_tag(type(value)))
    _feed((sign, digits, exponent), h, ctx)


@_feed.register(Fraction)
def _feed_fraction(value: Fraction, h: Any, ctx: _Ctx) -> None:
    h.update(b"/" + _type_tag(type(value)))
    _feed((value.numerator, value.denominator), h, ctx)


@_feed.register(PurePath)
def _feed_path(value: PurePath, h: Any, ctx: _Ctx) -> None:
    h.update(b"p" + _type_tag(type(value)))
    _feed(os.fspath(value), h, ctx)


@_feed.register(uuid.UUID)
def _feed_uuid(value: uuid.UUID, h: Any, ctx: _Ctx) -> None:
    h.update(b"u" + value.bytes)


@_feed.register(range)
def _feed_range(value: range, h: Any, ctx: _Ctx) -> None:
    h.update(b"r" + _I64(value.start) + _I64(value.stop) + _I64(value.step))


@_feed.register(type)
def _feed_class(value: type, h: Any, ctx: _Ctx) -> None:
    if ctx.on_code is not None:
        ctx.on_code(value)
    h.update(b"K" + _type_tag(value))


@_feed.register(types.FunctionType)
def _feed_function(value: types.FunctionType, h: Any, ctx: _Ctx) -> None:
    from .code_identity import _kind_of_path, code_identity  # imports this module

    if ctx.on_code is not None:
        ctx.on_code(value)
    elif _kind_of_path(value.__code__.co_filename) == "user" or "<locals>" in value.__qualname__:
        # A user function (or lambda, or closure) as a value is its code, not its name.
        h.update(b"L")
        _text(h, b"s", code_identity(value).hash.encode())
        return
    h.update(b"G")
    _feed((value.__module__, value.__qualname__), h, ctx)


@_feed.register(types.BuiltinFunctionType)
@_feed.register(types.ModuleType)
def _feed_named(value: Any, h: Any, ctx: _Ctx) -> None:
    owner = getattr(value, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        _feed_object(value, h, ctx)  # a bound builtin method: its object counts
        return
    h.update(b"G" + _type_tag(type(value)))
    _feed((getattr(value, "__module__", None), value.__name__), h, ctx)


def _feed_object(value: Any, h: Any, ctx: _Ctx) -> None:
    """Anything else: dataclass fields, else pickle protocol 5's reduction walked canonically.

    Walking `__reduce_ex__(5)` instead of pickling keeps dicts and sets inside objects
    order-independent (a pickled set of str differs between processes) and streams
    out-of-band buffers (`PickleBuffer`) straight into the hasher.
    """
    cls = type(value)
    if _LAZY and _register_lazy():
        impl = _feed.dispatch(cls)
        if impl is not _feed.dispatch(object):
            impl(value, h, ctx)
            return
    if ctx.on_code is not None and cls.__module__ not in ("builtins", "copyreg"):
        ctx.on_code(cls)
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, type):
        if not _enter(value, h, ctx):
            return
        h.update(b"Y" + _type_tag(cls))
        for f in dataclasses.fields(value):
            _feed(f.name, h, ctx)
            _feed(getattr(value, f.name, None), h, ctx)
        _leave(value, ctx)
        return
    try:
        reducer = copyreg.dispatch_table.get(cls)
        reduced = reducer(value) if reducer is not None else value.__reduce_ex__(5)
    except Exception as exc:
        raise Unfingerprintable(
            f"cannot fingerprint a value of type {_type_name(cls)}: {exc}; make it picklable "
            "or give the step a key function"
        ) from None
    if isinstance(reduced, str):
        h.update(b"G" + _type_tag(cls))
        _feed(reduced, h, ctx)
        return
    if not _enter(value, h, ctx):
        return
    h.update(b"R" + _U64(len(reduced)))
    callable_, args, *rest = reduced
    _feed(callable_, h, ctx)
    _feed(args, h, ctx)
    if rest:
        _feed(rest[0], h, ctx)  # state
    if len(rest) > 1 and rest[1] is not None:
        _feed(list(rest[1]), h, ctx)  # listitems
    if len(rest) > 2 and rest[2] is not None:
        _feed(list(rest[2]), h, ctx)  # dictitems, in the object's own order
    _leave(value, ctx)


# -- numpy / pandas, registered only once their module is already imported --------------------


def _register_numpy() -> None:
    import numpy as np

    @_feed.register(np.ndarray)
    def _feed_ndarray(arr: Any, h: Any, ctx: _Ctx) -> None:
        if type(arr) is not np.ndarray:
            h.update(_type_tag(type(arr)))
            if isinstance(arr, np.ma.MaskedArray):
                _feed_ndarray(np.ma.getmaskarray(arr), h, ctx)
                arr = np.ma.getdata(arr)
            arr = arr.view(np.ndarray)
        dtype = arr.dtype
        h.update(b"A")
        _feed(dtype.str, h, ctx)
        if dtype.names is not None or dtype.subdtype is not None:
            _feed(dtype.descr, h, ctx)
        _feed(arr.shape, h, ctx)
        if dtype.hasobject:
            _feed(arr.reshape(-1).tolist(), h, ctx)
            return
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        h.update(arr.reshape(-1).view(np.uint8))

    @_feed.register(np.generic)
    def _feed_npscalar(value: Any, h: Any, ctx: _Ctx) -> None:
        if isinstance(value, np.void) and value.dtype.hasobject:
            _feed_object(value, h, ctx)
            return
        h.update(b"a")
        _feed(value.dtype.str, h, ctx)
        if value.dtype.names is not None:
            _feed(value.dtype.descr, h, ctx)
        _text(h, b"b", value.tobytes())


def _register_pandas() -> None:
    import pandas as pd

    @_feed.register(pd.DataFrame)
    def _feed_frame(df: Any, h: Any, ctx: _Ctx) -> None:
        # Column by column, so the block layout (how the frame was built) does not count.
        h.update(b"PD" + _type_tag(type(df)) + _U64(df.shape[1]))
        _feed(df.columns, h, ctx)
        _feed(df.index, h, ctx)
        if df.attrs:
            _feed(df.attrs, h, ctx)
        for i in range(df.shape[1]):
            column = df.iloc[:, i]
            _feed(str(column.dtype), h, ctx)
            _feed(_pandas_values(column), h, ctx)

    @_feed.register(pd.Series)
    def _feed_series(series: Any, h: Any, ctx: _Ctx) -> None:
        h.update(b"PS" + _type_tag(type(series)))
        _feed(series.name, h, ctx)
        _feed(str(series.dtype), h, ctx)
        _feed(series.index, h, ctx)
        if series.attrs:
            _feed(series.attrs, h, ctx)
        _feed(_pandas_values(series), h, ctx)

    def _pandas_values(series: Any) -> Any:
        """The backing ndarray or ExtensionArray, without the copy `.to_numpy()` may make."""
        values = getattr(series, "_values", None)
        return series.array if values is None else values


_LAZY: dict[str, Callable[[], None]] = {"numpy": _register_numpy, "pandas": _register_pandas}
_LAZY_LOCK = threading.Lock()


def _register_lazy() -> bool:
    """Register handlers for libraries that are imported by now; True if any was added."""
    added = False
    with _LAZY_LOCK:
        for name in [name for name in _LAZY if name in sys.modules]:
            module = sys.modules[name]
            if getattr(getattr(module, "__spec__", None), "_initializing", False):
                continue  # still importing: try again on the next value
            _LAZY.pop(name)()
            added = True
    return added
