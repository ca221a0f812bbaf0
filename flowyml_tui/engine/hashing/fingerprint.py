"""Value fingerprints: one stable digest of a value, for cache keys.

`fingerprint(value)` streams a canonical, type-tagged encoding of a value into one xxh3-128
hasher, so equal values give equal keys in every process (no `str()`, no `repr()`, no
`hash()`). `register` teaches it a type; the hook writes through an `Encoder`.

numpy, pandas and flowyml are never imported here: their handlers are registered the first
time a value from an already-imported numpy/pandas/flowyml reaches the generic fallback.
"""

from __future__ import annotations

import copyreg
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
from pathlib import PurePath
from pickle import PickleBuffer
from typing import Any

from xxhash import xxh3_128

from .encoder import (
    Walk,
    pack_c128,
    pack_f64,
    pack_i64,
    pack_u64,
    type_name,
    type_tag,
    write_text,
)

__all__ = [
    "Encoder",
    "Unfingerprintable",
    "feed",
    "feed_root",
    "fingerprint",
    "register",
]

_PACKED_MIN = 8


class Unfingerprintable(TypeError):
    """A value that has no stable fingerprint, so it cannot be part of a cache key."""


def fingerprint(value: Any) -> str:
    """The xxh3-128 hex digest of a value's canonical encoding, stable across processes."""
    h = xxh3_128()
    feed_root(value, h, Walk())
    return h.hexdigest()


def feed_root(value: Any, h: Any, ctx: Walk) -> None:
    """`feed` for a value at the top of a digest: too deep a nesting is `Unfingerprintable`."""
    try:
        feed(value, h, ctx)
    except RecursionError:
        raise Unfingerprintable(
            f"cannot fingerprint a value of type {type_name(type(value))}: it is nested too "
            "deeply; give the step a key function"
        ) from None


def _enter(value: Any, h: Any, ctx: Walk) -> bool:
    """Mark a container as being walked; a container met again inside itself is a back-reference."""
    key = id(value)
    depth = ctx.active.get(key)
    if depth is not None:
        h.update(b"@" + pack_u64(depth))
        return False
    ctx.active[key] = len(ctx.active)
    return True


def _leave(value: Any, ctx: Walk) -> None:
    del ctx.active[id(value)]


@functools.singledispatch
def feed(value: Any, h: Any, ctx: Walk) -> None:
    """Write a value's canonical bytes into hasher `h`: the dispatch every handler is under.

    Handlers take `(value, hasher, walk)` and define the byte format, so only this package
    registers them here; user types go through `register`, which writes through an `Encoder`.
    """
    _feed_object(value, h, ctx)


class Encoder:
    """What a `register`ed hook writes a value through; whatever it writes is the fingerprint.

    Write everything that tells two values of the type apart, and nothing that differs
    between equal ones (ids, caches, timestamps of creation).
    """

    __slots__ = ("_ctx", "_h")

    def __init__(self, hasher: Any, walk: Walk) -> None:
        self._h = hasher
        self._ctx = walk

    def value(self, obj: Any) -> None:
        """Write any value (a field, a tuple of fields) as `fingerprint` would encode it."""
        feed(obj, self._h, self._ctx)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write bytes, length-prefixed so two writes never run together (`ab`+`c` != `a`+`bc`)."""
        view = memoryview(data).cast("B")
        self._h.update(b"w" + pack_u64(view.nbytes))
        self._h.update(view)


Hook = Callable[[Any, Encoder], object]
"""`hook(value, encoder)`: writes what identifies `value` through the `Encoder`."""


def register(cls: type, hook: Hook | None = None) -> Any:
    """Teach `fingerprint` a type whose generic encoding is wrong or slow.

        @register(Model)
        def _(model: Model, out: Encoder) -> None:
            out.value(model.name)
            out.write(model.weights_bytes())

    The hook also covers subclasses of `cls`. Its writes follow the value's type name, so two
    types never fingerprint alike; a value met again inside itself is written as a
    back-reference, so cyclic structures do not loop; a hook that raises makes the value
    `Unfingerprintable`. Returns the hook (used as a decorator without it).
    """

    def install(fn: Hook) -> Hook:
        def handler(value: Any, h: Any, ctx: Walk) -> None:
            if not _enter(value, h, ctx):
                return
            h.update(b"X" + type_tag(type(value)))
            try:
                fn(value, Encoder(h, ctx))
            except (Unfingerprintable, RecursionError):
                raise
            except Exception as exc:
                raise Unfingerprintable(
                    f"the fingerprint hook registered for {type_name(cls)} failed on a "
                    f"{type_name(type(value))}: {exc!r}; fix the hook, or give the step a key "
                    "function"
                ) from exc
            _leave(value, ctx)

        feed.register(cls, handler)
        _USER_TYPES.add(cls)
        return fn

    return install if hook is None else install(hook)


_USER_TYPES: set[type] = set()
"""Types a user registered: a lazily registered numpy/pandas handler never replaces them."""


def _subclass(value: Any, h: Any, ctx: Walk, current: Callable[..., Any]) -> bool:
    """Handle a subclass of a builtin; True if it was fully fed by a more specific handler."""
    if _LAZY and _register_lazy():
        impl = feed.dispatch(type(value))
        if impl is not current:
            impl(value, h, ctx)
            return True
    if isinstance(value, enum.Enum):
        _feed_enum(value, h, ctx)
        return True
    h.update(type_tag(type(value)))
    return False


@feed.register(type(None))
def _feed_none(value: None, h: Any, ctx: Walk) -> None:
    h.update(b"N")


@feed.register(bool)
def _feed_bool(value: bool, h: Any, ctx: Walk) -> None:
    h.update(b"T" if value else b"F")


@feed.register(int)
def _feed_int(value: int, h: Any, ctx: Walk) -> None:
    if type(value) is not int and _subclass(value, h, ctx, _feed_int):
        return
    if -(1 << 63) <= value < (1 << 63):
        h.update(b"i" + pack_i64(value))
    else:
        raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
        h.update(b"I" + pack_u64(len(raw)) + raw)


@feed.register(float)
def _feed_float(value: float, h: Any, ctx: Walk) -> None:
    if type(value) is not float and _subclass(value, h, ctx, _feed_float):
        return
    h.update(b"f" + pack_f64(value))


@feed.register(complex)
def _feed_complex(value: complex, h: Any, ctx: Walk) -> None:
    if type(value) is not complex and _subclass(value, h, ctx, _feed_complex):
        return
    h.update(b"c" + pack_c128(value.real, value.imag))


@feed.register(str)
def _feed_str(value: str, h: Any, ctx: Walk) -> None:
    if type(value) is not str and _subclass(value, h, ctx, _feed_str):
        return
    write_text(h, b"s", value.encode("utf-8", "surrogatepass"))


@feed.register(bytes)
def _feed_bytes(value: bytes, h: Any, ctx: Walk) -> None:
    if type(value) is not bytes and _subclass(value, h, ctx, _feed_bytes):
        return
    write_text(h, b"b", value)


@feed.register(bytearray)
def _feed_bytearray(value: bytearray, h: Any, ctx: Walk) -> None:
    if type(value) is not bytearray:
        h.update(type_tag(type(value)))
    h.update(b"B" + pack_u64(len(value)))
    h.update(value)


@feed.register(memoryview)
def _feed_memoryview(value: memoryview, h: Any, ctx: Walk) -> None:
    fmt = value.format.encode()
    h.update(b"m" + pack_u64(len(fmt)) + fmt + pack_u64(value.ndim))
    for dim in value.shape or ():
        h.update(pack_u64(dim))
    h.update(value if value.c_contiguous else value.tobytes())


@feed.register(PickleBuffer)
def _feed_picklebuffer(value: PickleBuffer, h: Any, ctx: Walk) -> None:
    _feed_memoryview(memoryview(value), h, ctx)


def _feed_items(items: list[Any] | tuple[Any, ...], h: Any, ctx: Walk) -> None:
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
    dispatch = feed
    for item in items:
        dispatch(item, h, ctx)


def _native(packed: array[Any]) -> bytes:
    if sys.byteorder == "big":  # pragma: no cover - keep digests equal on every machine
        packed.byteswap()
    return packed.tobytes()


def _feed_sequence(tag: bytes, value: list[Any] | tuple[Any, ...], h: Any, ctx: Walk) -> None:
    if not _enter(value, h, ctx):
        return
    h.update(tag + pack_u64(len(value)))
    _feed_items(value, h, ctx)
    _leave(value, ctx)


@feed.register(list)
def _feed_list(value: list[Any], h: Any, ctx: Walk) -> None:
    if type(value) is not list and _subclass(value, h, ctx, _feed_list):
        return
    _feed_sequence(b"[", value, h, ctx)
    _feed_instance_dict(value, h, ctx)


@feed.register(tuple)
def _feed_tuple(value: tuple[Any, ...], h: Any, ctx: Walk) -> None:
    if type(value) is not tuple and _subclass(value, h, ctx, _feed_tuple):
        return
    _feed_sequence(b"(", value, h, ctx)
    _feed_instance_dict(value, h, ctx)


def _digest(value: Any, ctx: Walk) -> bytes:
    sub = xxh3_128()
    feed(value, sub, ctx)
    return sub.digest()


def _feed_mapping(value: dict[Any, Any], h: Any, ctx: Walk) -> None:
    """Canonical order for mappings: by key when keys are all str (or all int), else by digest."""
    h.update(b"{" + pack_u64(len(value)))
    keys = list(value)
    kinds = set(map(type, keys))
    if len(kinds) == 1 and (str in kinds or int in kinds):
        keys.sort()
        h.update(b"\x03")
        dispatch = feed
        for k in keys:
            dispatch(k, h, ctx)
            dispatch(value[k], h, ctx)
        return
    digests = []
    for k, v in value.items():
        sub = xxh3_128()
        feed(k, sub, ctx)
        feed(v, sub, ctx)
        digests.append(sub.digest())
    digests.sort()
    h.update(b"\x02" + b"".join(digests))


@feed.register(dict)
def _feed_dict(value: dict[Any, Any], h: Any, ctx: Walk) -> None:
    cls = type(value)
    if cls is not dict:
        if _subclass(value, h, ctx, _feed_dict):
            return
        if isinstance(value, defaultdict):
            feed(value.default_factory, h, ctx)
    if not _enter(value, h, ctx):
        return
    _feed_mapping(value, h, ctx)
    _leave(value, ctx)
    if cls is not dict and cls is not defaultdict and cls is not Counter:
        _feed_instance_dict(value, h, ctx)


@feed.register(OrderedDict)
def _feed_ordereddict(value: OrderedDict[Any, Any], h: Any, ctx: Walk) -> None:
    h.update(type_tag(type(value)))
    if not _enter(value, h, ctx):
        return
    h.update(b"O" + pack_u64(len(value)))
    for k, v in value.items():
        feed(k, h, ctx)
        feed(v, h, ctx)
    _leave(value, ctx)


def _feed_unordered(tag: bytes, value: set[Any] | frozenset[Any], h: Any, ctx: Walk) -> None:
    if not _enter(value, h, ctx):
        return
    h.update(tag + pack_u64(len(value)))
    items = list(value)
    if items and (all(type(x) is str for x in items) or all(type(x) is int for x in items)):
        items.sort()
        _feed_items(items, h, ctx)
    else:
        h.update(b"\x02" + b"".join(sorted(_digest(item, ctx) for item in items)))
    _leave(value, ctx)


@feed.register(set)
def _feed_set(value: set[Any], h: Any, ctx: Walk) -> None:
    if type(value) is not set and _subclass(value, h, ctx, _feed_set):
        return
    _feed_unordered(b"<", value, h, ctx)


@feed.register(frozenset)
def _feed_frozenset(value: frozenset[Any], h: Any, ctx: Walk) -> None:
    if type(value) is not frozenset and _subclass(value, h, ctx, _feed_frozenset):
        return
    _feed_unordered(b">", value, h, ctx)


def _feed_instance_dict(value: Any, h: Any, ctx: Walk) -> None:
    """Attributes a builtin subclass carries besides its items (a namedtuple has none)."""
    attrs = getattr(value, "__dict__", None)
    if attrs:
        h.update(b"+")
        _feed_dict(attrs, h, ctx)


@feed.register(enum.Enum)
@feed.register(enum.IntEnum)
@feed.register(enum.IntFlag)
@feed.register(enum.StrEnum)
def _feed_enum(value: enum.Enum, h: Any, ctx: Walk) -> None:
    h.update(b"E" + type_tag(type(value)))
    name = value.name
    feed(name, h, ctx)
    feed(value.value, h, ctx)


_DATETIME_TYPES = (_dt.datetime, _dt.time, _dt.date, _dt.timedelta)


@feed.register(_dt.datetime)
@feed.register(_dt.time)
def _feed_datetime(value: _dt.datetime | _dt.time, h: Any, ctx: Walk) -> None:
    if type(value) not in _DATETIME_TYPES:
        _feed_object(value, h, ctx)  # pandas.Timestamp and co: nanoseconds live in their state
        return
    h.update(b"t" + type_tag(type(value)) + pack_i64(value.fold))
    feed(value.replace(tzinfo=None).isoformat(), h, ctx)
    feed(value.tzinfo, h, ctx)


@feed.register(_dt.date)
def _feed_date(value: _dt.date, h: Any, ctx: Walk) -> None:
    if type(value) is not _dt.date:
        _feed_object(value, h, ctx)
        return
    h.update(b"d" + pack_i64(value.toordinal()))


@feed.register(_dt.timedelta)
def _feed_timedelta(value: _dt.timedelta, h: Any, ctx: Walk) -> None:
    if type(value) is not _dt.timedelta:
        _feed_object(value, h, ctx)
        return
    h.update(b"D" + pack_i64(value.days) + pack_i64(value.seconds) + pack_i64(value.microseconds))


@feed.register(Decimal)
def _feed_decimal(value: Decimal, h: Any, ctx: Walk) -> None:
    sign, digits, exponent = value.as_tuple()
    h.update(b"$" + type_tag(type(value)))
    feed((sign, digits, exponent), h, ctx)


@feed.register(PurePath)
def _feed_path(value: PurePath, h: Any, ctx: Walk) -> None:
    h.update(b"p" + type_tag(type(value)))
    feed(os.fspath(value), h, ctx)


@feed.register(uuid.UUID)
def _feed_uuid(value: uuid.UUID, h: Any, ctx: Walk) -> None:
    h.update(b"u" + value.bytes)


@feed.register(range)
def _feed_range(value: range, h: Any, ctx: Walk) -> None:
    h.update(b"r" + pack_i64(value.start) + pack_i64(value.stop) + pack_i64(value.step))


@feed.register(type)
def _feed_class(value: type, h: Any, ctx: Walk) -> None:
    if ctx.on_code is not None:
        ctx.on_code(value)
    h.update(b"K" + type_tag(value))


@feed.register(types.BuiltinFunctionType)
@feed.register(types.ModuleType)
def _feed_named(value: Any, h: Any, ctx: Walk) -> None:
    owner = getattr(value, "__self__", None)
    if owner is not None and not isinstance(owner, types.ModuleType):
        _feed_object(value, h, ctx)  # a bound builtin method: its object counts
        return
    h.update(b"G" + type_tag(type(value)))
    feed((getattr(value, "__module__", None), value.__name__), h, ctx)


def _feed_object(value: Any, h: Any, ctx: Walk) -> None:
    """Anything else: dataclass fields, else pickle protocol 5's reduction walked canonically.

    Walking `__reduce_ex__(5)` instead of pickling keeps dicts and sets inside objects
    order-independent (a pickled set of str differs between processes) and streams
    out-of-band buffers (`PickleBuffer`) straight into the hasher.
    """
    cls = type(value)
    if _LAZY and _register_lazy():
        impl = feed.dispatch(cls)
        if impl is not feed.dispatch(object):
            impl(value, h, ctx)
            return
    if ctx.on_code is not None and cls.__module__ not in ("builtins", "copyreg"):
        ctx.on_code(cls)
    if hasattr(cls, "__dataclass_fields__") and not isinstance(value, type):
        if not _enter(value, h, ctx):
            return
        h.update(b"Y" + type_tag(cls))
        import dataclasses  # imported already: a dataclass instance exists

        for f in dataclasses.fields(value):
            feed(f.name, h, ctx)
            feed(getattr(value, f.name, None), h, ctx)
        _leave(value, ctx)
        return
    try:
        reducer = copyreg.dispatch_table.get(cls)
        reduced = reducer(value) if reducer is not None else value.__reduce_ex__(5)
    except Exception as exc:
        raise Unfingerprintable(
            f"cannot fingerprint a value of type {type_name(cls)}: {exc}; make it picklable "
            "or give the step a key function"
        ) from None
    if isinstance(reduced, str):
        h.update(b"G" + type_tag(cls))
        feed(reduced, h, ctx)
        return
    if not _enter(value, h, ctx):
        return
    h.update(b"R" + pack_u64(len(reduced)))
    callable_, args, *rest = reduced
    feed(callable_, h, ctx)
    feed(args, h, ctx)
    if rest:
        feed(rest[0], h, ctx)  # state
    if len(rest) > 1 and rest[1] is not None:
        feed(list(rest[1]), h, ctx)  # listitems
    if len(rest) > 2 and rest[2] is not None:
        feed(list(rest[2]), h, ctx)  # dictitems, in the object's own order
    _leave(value, ctx)


# -- numpy / pandas, registered only once their module is already imported --------------------


def _register_numpy() -> None:
    import numpy as np

    @_library_handler(np.ndarray)
    def _feed_ndarray(arr: Any, h: Any, ctx: Walk) -> None:
        if type(arr) is not np.ndarray:
            h.update(type_tag(type(arr)))
            if isinstance(arr, np.ma.MaskedArray):
                _feed_ndarray(np.ma.getmaskarray(arr), h, ctx)
                arr = np.ma.getdata(arr)
            arr = arr.view(np.ndarray)
        dtype = arr.dtype
        h.update(b"A")
        feed(dtype.str, h, ctx)
        if dtype.names is not None or dtype.subdtype is not None:
            feed(dtype.descr, h, ctx)
        feed(arr.shape, h, ctx)
        if dtype.hasobject:
            feed(arr.reshape(-1).tolist(), h, ctx)
            return
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        h.update(arr.reshape(-1).view(np.uint8))

    @_library_handler(np.generic)
    def _feed_npscalar(value: Any, h: Any, ctx: Walk) -> None:
        if isinstance(value, np.void) and value.dtype.hasobject:
            _feed_object(value, h, ctx)
            return
        h.update(b"a")
        feed(value.dtype.str, h, ctx)
        if value.dtype.names is not None:
            feed(value.dtype.descr, h, ctx)
        write_text(h, b"b", value.tobytes())


def _register_pandas() -> None:
    import pandas as pd

    @_library_handler(pd.DataFrame)
    def _feed_frame(df: Any, h: Any, ctx: Walk) -> None:
        # Column by column, so the block layout (how the frame was built) does not count.
        h.update(b"PD" + type_tag(type(df)) + pack_u64(df.shape[1]))
        feed(df.columns, h, ctx)
        feed(df.index, h, ctx)
        if df.attrs:
            feed(df.attrs, h, ctx)
        for i in range(df.shape[1]):
            column = df.iloc[:, i]
            feed(str(column.dtype), h, ctx)
            feed(_pandas_values(column), h, ctx)

    @_library_handler(pd.Series)
    def _feed_series(series: Any, h: Any, ctx: Walk) -> None:
        h.update(b"PS" + type_tag(type(series)))
        feed(series.name, h, ctx)
        feed(str(series.dtype), h, ctx)
        feed(series.index, h, ctx)
        if series.attrs:
            feed(series.attrs, h, ctx)
        feed(_pandas_values(series), h, ctx)

    def _pandas_values(series: Any) -> Any:
        """The backing ndarray or ExtensionArray, without the copy `.to_numpy()` may make."""
        values = getattr(series, "_values", None)
        return series.array if values is None else values


def _register_fractions() -> None:
    """`fractions` costs start-up and a Fraction exists only once someone imported it."""
    from fractions import Fraction

    @feed.register(Fraction)
    def _feed_fraction(value: Fraction, h: Any, ctx: Walk) -> None:
        h.update(b"/" + type_tag(type(value)))
        feed((value.numerator, value.denominator), h, ctx)


def _library_handler(cls: type) -> Callable[[Any], Any]:
    """Register a numpy/pandas handler unless the user registered that type first."""

    def install(fn: Any) -> Any:
        if cls not in _USER_TYPES:
            feed.register(cls, fn)
        return fn

    return install


def _register_flowyml_assets() -> None:
    """flowyml's `Asset` (Dataset, Model, Metrics ...) by content, not by its random identity.

    Every `Asset` gets a fresh `asset_id` (uuid4) and `created_at`, so the generic walk would
    make each run's asset new and stop early cutoff; what it holds is name, version, data,
    properties and tags.
    """
    from flowyml.assets.base import Asset

    def _asset(asset: Any, out: Encoder) -> None:
        out.value(asset.name)
        out.value(asset.version)
        out.value(asset.data)
        out.value(dict(asset.properties))
        out.value(dict(asset.tags))

    if Asset not in _USER_TYPES:
        register(Asset, _asset)
        _USER_TYPES.discard(Asset)


_LAZY: dict[str, Callable[[], None]] = {
    "fractions": _register_fractions,
    "numpy": _register_numpy,
    "pandas": _register_pandas,
    "flowyml.assets.base": _register_flowyml_assets,
}
_LAZY_LOCK = threading.Lock()


def _register_lazy() -> bool:
    """Register handlers for libraries that are imported by now; True if any was added."""
    modules = sys.modules
    if not any(name in modules for name in tuple(_LAZY)):  # the usual case: no lock
        return False
    added = False
    with _LAZY_LOCK:
        for name in [name for name in _LAZY if name in sys.modules]:
            module = sys.modules[name]
            if getattr(getattr(module, "__spec__", None), "_initializing", False):
                continue  # still importing: try again on the next value
            _LAZY.pop(name)()
            added = True
    return added
