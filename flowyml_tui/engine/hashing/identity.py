"""Code identities: what a step's code is, for its cache key and "what changed".

`code_identity(func)` hashes the normalised AST of a step plus, transitively, the user code
and module constants it references, so a formatter run re-runs nothing and a helper edit
re-runs exactly the steps that use it. Code without source is identified by its code object
plus the values it captures. Constants are hashed with the value feeders of `fingerprint`.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import sys
import types
import weakref
from collections.abc import Iterable
from typing import Any

import msgspec
from xxhash import xxh3_128

from .bytecode import code_digest, code_reads
from .encoder import Walk, pack_u64, type_tag, write_text
from .fingerprint import Unfingerprintable, feed, feed_root
from .normalise import Reads, assignment_text, class_digest, function_digest
from .origin import code_kind, kind_of_path, module_kind, package_version
from .sources import source_file

__all__ = ["CodeIdentity", "code_identity"]


class CodeIdentity(msgspec.Struct, frozen=True, gc=False):
    """What a step's code is, for the cache key and for "diff since the cached version".
    Strings only, so never in a cycle: untracked by the collector (`gc=False`), one object
    fewer a step for each full collection of a big run to scan."""

    hash: str
    functions: dict[str, str] = {}
    """"module:qualname" -> hash of that one function, class or constant."""
    sources: dict[str, str] = {}
    """"module:qualname" -> its source text as written (for a constant: its assignment)."""
    packages: dict[str, str] = {}
    """Third-party top-level package -> installed version."""
    root: str = ""
    """The key of the step function itself in `functions`."""


_MEMO: weakref.WeakKeyDictionary[Any, dict[str, CodeIdentity]] = weakref.WeakKeyDictionary()
_MODES = ("ast", "source")


def code_identity(func: Any, *, mode: str = "ast") -> CodeIdentity:
    """Identity of a step's code: its normalised AST plus the user code it references.

    mode="ast" ignores comments, formatting, docstrings and decorators; mode="source" hashes
    the source text as written (flowyml's behaviour). Memoised per function object, except
    when code without source (exec, eval, a REPL) is met: that identity includes values its
    globals and closures hold now, which are read again on every call.
    """
    if mode not in _MODES:
        raise ValueError(f"code_identity mode must be 'ast' or 'source', got {mode!r}")
    try:
        memo = _MEMO.get(func)
    except TypeError:
        memo = None
    if memo is not None:
        found = memo.get(mode)
        if found is not None:
            return found
    walk = _IdentityWalk(mode)
    identity = walk.run(func)
    if not walk.sourceless:
        with contextlib.suppress(TypeError):  # not weak-referenceable: computed each time
            _MEMO.setdefault(func, {})[mode] = identity
    return identity


def identity_hash(
    mode: str, root: str, parts: list[tuple[str, str]], packages: list[tuple[str, str]]
) -> str:
    """`fingerprint((mode, root, parts, packages))`, byte for byte, written out directly.

    Identities are hashed once per step per process: the generic walk's dispatch per item
    cost more than everything else about a cached step. `test_identity_hash` holds them equal.
    """
    out = [b"(\x04\x00\x00\x00\x00\x00\x00\x00\x00", _text(mode), _text(root)]
    for pairs in (parts, packages):
        out.append(b"[" + pack_u64(len(pairs)) + b"\x00")
        for key, value in pairs:
            out.append(_PAIR + _text(key) + _text(value))
    return xxh3_128(b"".join(out)).hexdigest()


_PAIR = b"(\x02\x00\x00\x00\x00\x00\x00\x00\x00"


def _text(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return b"s" + pack_u64(len(data)) + data


def _unwrap(obj: Any) -> Any:
    step_cls = _step_class()
    for _ in range(100):
        if step_cls is not None and isinstance(obj, step_cls):
            obj = obj.func
        elif isinstance(obj, (staticmethod, classmethod, types.MethodType)):
            obj = obj.__func__
        elif not isinstance(obj, type) and hasattr(obj, "__wrapped__"):
            try:
                obj = obj.__wrapped__
            except Exception:
                return obj
        else:
            return obj
    return obj


@functools.cache
def _step_class() -> type | None:
    try:
        from ..step import Step
    except Exception:  # pragma: no cover - hashing used outside the package
        return None
    return Step


class _IdentityWalk:
    """One transitive walk from a step function over the user code it references."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.functions: dict[str, str] = {}
        self.sources: dict[str, str] = {}
        self.packages: dict[str, str] = {}
        self.hash_parts: dict[str, str] = {}  # location-based key -> digest
        self.seen: dict[int, str] = {}  # id(object) -> key
        self.keep: list[Any] = []  # keeps ids stable during the walk
        self.queue: list[Any] = []
        self.root_dir = ""
        # Set when code without source was met: what it captures can be re-bound at any time
        # (a notebook cell assigning a global again), so such an identity is never memoised.
        self.sourceless = False

    # -- driving --------------------------------------------------------------------------------

    def run(self, func: Any) -> CodeIdentity:
        func = _unwrap(func)
        code = getattr(func, "__code__", None)
        if code is not None:
            self.root_dir = os.path.dirname(code.co_filename)
        root = self.visit_code_object(func, root=True)
        while self.queue:
            self.visit_code_object(self.queue.pop(), root=False)
        return CodeIdentity(
            hash=identity_hash(
                self.mode,
                self.hash_parts.get("\x00root", ""),
                sorted(self.hash_parts.items()),
                sorted(self.packages.items()),
            ),
            functions=self.functions,
            sources=self.sources,
            packages=self.packages,
            root=root,
        )

    def location(self, path: str | None, module: str, qualname: str) -> str:
        """A key for the hash that survives the module being loaded under another name."""
        if path and kind_of_path(path) == "user":
            rel = os.path.relpath(path, self.root_dir) if self.root_dir else path
            return f"{rel.replace(os.sep, '/')}:{qualname}"
        return f"{module}:{qualname}"

    def add(self, key: str, location: str, digest: str, source: str | None) -> str:
        n = 1
        unique, place = key, location
        while unique in self.functions:  # two lambdas with one qualname
            n += 1
            unique, place = f"{key}#{n}", f"{location}#{n}"
        self.functions[unique] = digest
        self.hash_parts[place] = digest
        if source is not None:
            self.sources[unique] = source
        return unique

    # -- references -----------------------------------------------------------------------------

    def reference(self, value: Any, key: str, path: str | None, attrs: set[str]) -> None:
        """A global, closure cell or module attribute that user code reads."""
        value = _unwrap(value)
        if isinstance(value, types.ModuleType):
            self.module(value, attrs, set())
        elif isinstance(value, (types.FunctionType, type)):
            self.code_ref(value)
        elif isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType)):
            self.package_of(getattr(value, "__module__", None))
        else:
            self.constant(value, key, path)

    def code_ref(self, obj: Any) -> None:
        module = getattr(obj, "__module__", None)
        code = getattr(obj, "__code__", None)
        if code is not None:
            kind = code_kind(code.co_filename, module)
        else:
            path = _class_file(obj)
            real_file = bool(path) and not path.startswith("<")
            kind = kind_of_path(path) if real_file else module_kind(module)
            if module == "builtins" and getattr(builtins, obj.__qualname__, None) is not obj:
                kind = "user"  # a class made by exec in a bare namespace: no module to name
        if kind == "user":
            if id(obj) not in self.seen:
                self.seen[id(obj)] = ""
                self.keep.append(obj)
                self.queue.append(obj)
        elif kind == "third":
            self.package_of(module)

    def package_of(self, module: str | None) -> None:
        if module and module_kind(module) == "third":
            top, version = package_version(module)
            self.packages[top] = version

    def module(self, module: types.ModuleType, attrs: set[str], visiting: set[int]) -> None:
        kind = kind_of_path(getattr(module, "__file__", None))
        if kind == "third":
            self.package_of(module.__name__)
        if kind != "user" or id(module) in visiting:
            return
        visiting.add(id(module))
        path = getattr(module, "__file__", None)
        namespace = vars(module)
        for name in sorted(attrs):
            if name in namespace and not name.startswith("__"):
                value = namespace[name]
                if isinstance(value, types.ModuleType):
                    self.module(value, attrs, visiting)
                else:
                    self.reference(value, f"{module.__name__}:{name}", path, attrs)

    def constant(self, value: Any, key: str, path: str | None) -> None:
        if id(value) in self.seen:
            return
        self.seen[id(value)] = key
        self.keep.append(value)
        cls = type(value)
        if cls.__module__ not in ("builtins",):
            self.code_ref(cls)
        h = xxh3_128()
        try:
            feed_root(value, h, Walk(on_code=self.code_ref))
            digest = h.hexdigest()
        except Unfingerprintable:
            digest = xxh3_128(b"unfingerprintable:" + type_tag(cls)).hexdigest()
        module, _, name = key.partition(":")
        parsed = source_file(path) if path else None
        source = assignment_text(parsed, name) if parsed is not None else None
        self.add(key, self.location(path, module, name), digest, source)

    # -- definitions ----------------------------------------------------------------------------

    def visit_code_object(self, obj: Any, root: bool) -> str:
        if isinstance(obj, type):
            return self.visit_class(obj)
        if isinstance(obj, types.FunctionType):
            return self.visit_function(obj, root)
        qualname = getattr(obj, "__qualname__", type(obj).__name__)
        key = f"{getattr(obj, '__module__', '?')}:{qualname}"
        h = xxh3_128()
        try:
            feed_root(obj, h, Walk(on_code=self.code_ref))
        except Unfingerprintable:
            h.update(type_tag(type(obj)))
        location = "\x00root" if root else key
        return self.add(key, location, h.hexdigest(), None)

    def visit_function(self, func: types.FunctionType, root: bool) -> str:
        self.seen[id(func)] = ""
        code = func.__code__
        path = code.co_filename
        key = f"{func.__module__}:{func.__qualname__}"
        step_cls = _step_class()
        strip = root or (
            step_cls is not None and isinstance(func.__globals__.get(func.__name__), step_cls)
        )
        found_def = function_digest(func, strip, self.mode)
        source: str | None = None
        if found_def is not None:
            digest, source, decorator_reads = found_def
        else:
            digest = code_digest(code)
            self.sourceless = True
        extra = self.defaults_digest(func)
        if extra:
            digest = xxh3_128((digest + extra).encode()).hexdigest()
        location = "\x00root" if root else self.location(path, func.__module__, func.__qualname__)
        unique = self.add(key, location, digest, source)
        # What the body reads: globals, module attributes, closure cells.
        found, attrs = code_reads(code)
        if found_def is not None and not strip:
            found |= decorator_reads[0]
            attrs |= decorator_reads[1]
        self.globals_read(func.__globals__, found, attrs, path)
        if func.__closure__:
            for var, cell in zip(code.co_freevars, func.__closure__, strict=False):
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                self.reference(value, f"{key}.<closure>.{var}", path, attrs)
        return unique

    def globals_read(
        self, namespace: dict[str, Any], found: set[str], attrs: set[str], path: str | None
    ) -> None:
        module_name = namespace.get("__name__", "?")
        for name in sorted(found):
            if name in namespace and not name.startswith("__"):
                self.reference(namespace[name], f"{module_name}:{name}", path, attrs)

    def defaults_digest(self, func: types.FunctionType) -> str:
        values = (func.__defaults__, func.__kwdefaults__)
        if values == (None, None):
            return ""
        h = xxh3_128()
        try:
            feed_root(values, h, Walk(on_code=self.code_ref))
        except Unfingerprintable:
            return "unfingerprintable-default"
        return h.hexdigest()

    def visit_class(self, cls: type) -> str:
        self.seen[id(cls)] = ""
        key = f"{cls.__module__}:{cls.__qualname__}"
        path = _class_file(cls)
        namespace = _class_globals(cls)
        found_class = None
        source = source_file(path) if path else None
        if source is not None and "<locals>" not in cls.__qualname__:
            found_class = class_digest(source, cls.__qualname__, self.mode)
        text: str | None = None
        if found_class is not None:
            digest, text, (found, attrs) = found_class
        else:
            digest, (found, attrs) = self.class_members_digest(cls)
            self.sourceless = True
        unique = self.add(key, self.location(path, cls.__module__, cls.__qualname__), digest, text)
        for base in cls.__bases__:
            if base is not object:
                self.code_ref(base)
        if namespace is not None:
            self.globals_read(namespace, found, attrs, path)
        return unique

    def class_members_digest(self, cls: type) -> tuple[str, Reads]:
        """A class whose source cannot be found: its methods' code and its plain attributes."""
        h = xxh3_128()
        found: set[str] = set()
        attrs: set[str] = set()
        for name in sorted(vars(cls)):
            if name in ("__dict__", "__weakref__", "__module__", "__doc__"):
                continue
            member = _unwrap(vars(cls)[name])
            feed(name, h, Walk())
            if isinstance(member, types.FunctionType):
                h.update(code_digest(member.__code__).encode())
                more, more_attrs = code_reads(member.__code__)
                found |= more
                attrs |= more_attrs
            else:
                try:
                    feed_root(member, h, Walk(on_code=self.code_ref))
                except Unfingerprintable:
                    h.update(type_tag(type(member)))
        return h.hexdigest(), (found, attrs)


def _class_members(cls: type) -> Iterable[types.FunctionType]:
    for member in vars(cls).values():
        member = _unwrap(member)
        if isinstance(member, types.FunctionType):
            yield member


def _class_file(cls: Any) -> str | None:
    if isinstance(cls, type):
        for member in _class_members(cls):  # right even when the module is not in sys.modules
            return member.__code__.co_filename
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    return getattr(module, "__file__", None)


def _class_globals(cls: type) -> dict[str, Any] | None:
    for member in _class_members(cls):
        return member.__globals__
    module = sys.modules.get(cls.__module__)
    return vars(module) if module is not None else None


@feed.register(types.FunctionType)
def _feed_function(value: types.FunctionType, h: Any, ctx: Walk) -> None:
    """A function as a value: user code (or code without source) by its code, others by name."""
    if ctx.on_code is not None:
        ctx.on_code(value)
    elif (
        code_kind(value.__code__.co_filename, value.__module__) == "user"
        or "<locals>" in value.__qualname__
    ):
        # A user function (or lambda, or closure) as a value is its code, not its name.
        h.update(b"L")
        write_text(h, b"s", code_identity(value).hash.encode())
        return
    h.update(b"G")
    feed((value.__module__, value.__qualname__), h, ctx)
