"""Code identities: what a step's code is, for its cache key and "what changed".

`code_identity(func)` hashes the normalised AST of a step plus, transitively, the user code
and module constants it references, so a formatter run re-runs nothing and a helper edit
re-runs exactly the steps that use it. Constants are hashed with the value feeders of
`fingerprint.py`.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import opcode
import os
import sys
import sysconfig
import threading
import time
import types
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from xxhash import xxh3_64_intdigest, xxh3_128

from .fingerprint import _U64, Unfingerprintable, _Ctx, _feed, _feed_top, _type_tag

__all__ = ["CodeIdentity", "code_identity"]


# ---------------------------------------------------------------------------------------------
# Where code lives: the user's project, the standard library, or a third-party package
# ---------------------------------------------------------------------------------------------

Kind = Literal["user", "std", "third"]


def _install_dirs() -> tuple[tuple[str, ...], tuple[str, ...]]:
    std: set[str] = set()
    site: set[str] = set()
    schemes = [
        sysconfig.get_paths(),
        sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix}),
    ]
    for paths in schemes:
        std.update(paths[k] for k in ("stdlib", "platstdlib") if k in paths)
        site.update(paths[k] for k in ("purelib", "platlib") if k in paths)
    try:
        import site as site_module

        site.update(site_module.getsitepackages())
        site.add(site_module.getusersitepackages())
    except Exception:  # pragma: no cover - embedded interpreters without `site`
        pass

    def norm(paths: set[str]) -> tuple[str, ...]:
        return tuple(sorted({os.path.realpath(p) + os.sep for p in paths if p}))

    return norm(std), norm(site)


_DIRS: tuple[tuple[str, ...], tuple[str, ...]] | None = None
_PATH_KINDS: dict[str, Kind] = {}
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_user_file(path: str | None) -> bool:
    """A file of the user's own project: not the stdlib, site-packages or flowyml_tui itself."""
    return _kind_of_path(path) == "user"


def _kind_of_path(path: str | None) -> Kind:
    """user = a real file outside the stdlib and site-packages; flowyml_tui itself is not user."""
    if not path:
        return "std"
    kind = _PATH_KINDS.get(path)
    if kind is not None:
        return kind
    global _DIRS
    if _DIRS is None:
        _DIRS = _install_dirs()
    std_dirs, site_dirs = _DIRS
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    if (
        real.startswith(site_dirs)
        or "site-packages" in parts
        or "dist-packages" in parts
        or real.startswith(_OWN_DIR)
    ):
        kind = "third"
    elif real.startswith(std_dirs) or path.startswith("<") or not os.path.exists(real):
        kind = "std"
    else:
        kind = "user"
    _PATH_KINDS[path] = kind
    return kind


def _module_kind(module_name: str | None) -> Kind:
    """Where a module's code lives; code of unknown origin (exec, REPL) counts as user code."""
    if not module_name or module_name == "builtins":
        return "std"
    top = module_name.partition(".")[0]
    module = sys.modules.get(module_name) or sys.modules.get(top)
    path = getattr(module, "__file__", None)
    if path:
        return _kind_of_path(path)
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return "std"
    for entry in getattr(module, "__path__", None) or ():  # namespace package
        return _kind_of_path(entry)
    return "user"


_DISTRIBUTIONS: dict[str, list[str]] | None = None
_VERSIONS: dict[str, str] = {}


def _package_version(module_name: str) -> tuple[str, str]:
    """(top-level package, version of the distribution that provides it)."""
    top = module_name.partition(".")[0]
    version = _VERSIONS.get(top)
    if version is None:
        import importlib.metadata as metadata

        global _DISTRIBUTIONS
        if _DISTRIBUTIONS is None:
            _DISTRIBUTIONS = metadata.packages_distributions()
        version = ""
        for dist in _DISTRIBUTIONS.get(top, ()):
            try:
                version = metadata.version(dist)
                break
            except Exception:
                continue
        if not version:
            version = str(getattr(sys.modules.get(top), "__version__", "unknown"))
        _VERSIONS[top] = version
    return top, version


# ---------------------------------------------------------------------------------------------
# Source files: parsed once, definitions indexed by line
# ---------------------------------------------------------------------------------------------

_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


class _SourceFile:
    """One parsed module file with its definitions indexed by first line and name."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines(keepends=True)
        self.tree = ast.parse(text, filename=path)
        self.defs: dict[tuple[int, str], _Def] = {}
        self.digests: dict[tuple[int, int, bool, str], str] = {}
        self._lambdas: dict[int, list[ast.Lambda]] | None = None
        self._index(self.tree.body)

    def _index(self, body: list[ast.stmt]) -> None:
        # Only statement lists can hold a def, so expressions are never walked.
        stack = [body]
        while stack:
            for node in stack.pop():
                if isinstance(node, _DEF_TYPES):
                    self.defs[(_first_line(node), node.name)] = node
                    stack.append(node.body)
                    continue
                for name in _BODY_FIELDS:
                    sub = getattr(node, name, None)
                    if sub:
                        stack.append(sub)  # handlers/cases hold nodes with a body of their own

    def lambdas(self, line: int) -> list[ast.Lambda]:
        if self._lambdas is None:
            self._lambdas = {}
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Lambda):
                    self._lambdas.setdefault(node.lineno, []).append(node)
        return self._lambdas.get(line, [])

    def find_class(self, qualname: str) -> ast.ClassDef | None:
        body: list[ast.stmt] = self.tree.body
        found: ast.ClassDef | None = None
        for part in qualname.split("."):
            found = None
            for node in body:  # the last definition wins, as at run time
                if isinstance(node, ast.ClassDef) and node.name == part:
                    found = node
            if found is None:
                return None
            body = found.body
        return found

    def assignment(self, name: str) -> str | None:
        """The source of the module-level statement that last binds `name` (a constant)."""
        found = None
        for node in self.tree.body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                found = node
        return self.segment(found) if found is not None else None

    def segment(self, node: ast.AST) -> str:
        start = _first_line(node)
        if isinstance(node, ast.Lambda):
            line = self.lines[node.lineno - 1].encode()
            if node.lineno == node.end_lineno:
                return line[node.col_offset : node.end_col_offset].decode()
        return "".join(self.lines[start - 1 : node.end_lineno])


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else node.lineno  # type: ignore[attr-defined]


_FILES: dict[str, tuple[tuple[int, int, int], int, float, _SourceFile | None]] = {}
_FILES_LOCK = threading.Lock()
_RACY_SECONDS = 2.0


def _source_file(path: str) -> _SourceFile | None:
    """Parse a file once; re-read it when it changed (content-checked for recent mtimes)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    stat_key = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _FILES.get(path)
    if cached is not None and cached[0] == stat_key and cached[2] - st.st_mtime > _RACY_SECONDS:
        return cached[3]
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    content = xxh3_64_intdigest(data)
    if cached is not None and cached[1] == content:
        parsed = cached[3]
    else:
        try:
            parsed = _SourceFile(path, data.decode("utf-8"))
        except (SyntaxError, ValueError, UnicodeDecodeError):
            parsed = None
    with _FILES_LOCK:
        _FILES[path] = (stat_key, content, time.time(), parsed)
    return parsed


# ---------------------------------------------------------------------------------------------
# Normalised AST digests
# ---------------------------------------------------------------------------------------------

_SKIP_FIELDS = frozenset({"type_comment", "kind", "ctx"})


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _ast_tokens(node: ast.AST, out: list[str], strip_decorators: bool) -> None:
    """Structure and constants only: no positions, comments, docstrings (or root decorators)."""
    out.append(type(node).__name__)
    is_owner = isinstance(node, (*_DEF_TYPES, ast.Module))
    for name in node._fields:
        if name in _SKIP_FIELDS or (strip_decorators and name == "decorator_list"):
            continue
        value = getattr(node, name, None)
        if isinstance(value, list):
            if is_owner and name == "body" and value and _is_docstring(value[0]):
                value = value[1:]
            out.append(f"{name}[{len(value)}")
            for item in value:
                if isinstance(item, ast.AST):
                    _ast_tokens(item, out, False)
                else:
                    out.append(repr(item))
        elif isinstance(value, ast.AST):
            out.append(name)
            _ast_tokens(value, out, False)
        else:
            out.append(repr(value))  # identifiers and literal constants: exact and typed


def _node_digest(
    source: _SourceFile, node: ast.AST, strip_decorators: bool, mode: str
) -> tuple[str, str]:
    """(digest, source text) of one definition, cached on the parsed file."""
    key = (node.lineno, node.col_offset, strip_decorators, mode)  # type: ignore[attr-defined]
    text = source.segment(node)
    digest = source.digests.get(key)
    if digest is None:
        if mode == "source":
            digest = xxh3_128(text.encode("utf-8", "surrogatepass")).hexdigest()
        else:
            tokens: list[str] = []
            _ast_tokens(node, tokens, strip_decorators)
            digest = xxh3_128("\x00".join(tokens).encode("utf-8", "surrogatepass")).hexdigest()
        source.digests[key] = digest
    return digest, text


def _code_digest(code: types.CodeType) -> str:
    """Fallback for code without source (exec, REPL): the code object, minus positions."""
    h = xxh3_128()
    stack = [code]
    while stack:
        co = stack.pop()
        h.update(co.co_code)
        _feed(
            (co.co_names, co.co_varnames, co.co_freevars, co.co_cellvars, co.co_argcount),
            h,
            _Ctx(),
        )
        h.update(_U64(co.co_kwonlyargcount) + _U64(co.co_posonlyargcount) + _U64(co.co_flags))
        for const in co.co_consts:
            if isinstance(const, types.CodeType):
                h.update(b"code")
                stack.append(const)
            else:
                try:
                    _feed(const, h, _Ctx())
                except Unfingerprintable:
                    h.update(_type_tag(type(const)))
    return h.hexdigest()


_Reads = tuple[set[str], set[str]]
"""(global names read, attribute names read off a global): what code references."""

_LOAD_GLOBALS = {opcode.opmap[n] for n in ("LOAD_GLOBAL", "LOAD_NAME") if n in opcode.opmap}
_LOAD_GLOBALS |= {opcode.opmap[n] for n in ("LOAD_FROM_DICT_OR_GLOBALS",) if n in opcode.opmap}
_LOAD_ATTRS = {opcode.opmap[n] for n in ("LOAD_ATTR", "LOAD_METHOD") if n in opcode.opmap}
_GLOBAL_SHIFT = {opcode.opmap["LOAD_GLOBAL"]: 1}  # 3.11+: the low bit says "push NULL"
_ATTR_SHIFT = 1 if sys.version_info >= (3, 12) else 0  # 3.12+: the low bit says "method"
_CHAIN_KEEP = {opcode.opmap[n] for n in ("CACHE", "EXTENDED_ARG", "NOP") if n in opcode.opmap}


def _code_reads(code: types.CodeType) -> _Reads:
    """Globals a function loads and attribute chains off them, from its bytecode.

    Precise where `co_names` is not: `co_names` mixes attribute names with global names, so
    `self.model` would make a global `model` look referenced.
    """
    try:
        return _scan_bytecode(code)
    except (IndexError, KeyError):  # pragma: no cover - an unknown bytecode layout
        names: set[str] = set()
        stack = [code]
        while stack:
            co = stack.pop()
            names.update(co.co_names)
            stack.extend(c for c in co.co_consts if isinstance(c, types.CodeType))
        return names, names


def _scan_bytecode(code: types.CodeType) -> _Reads:
    found: set[str] = set()
    attrs: set[str] = set()
    stack = [code]
    while stack:
        co = stack.pop()
        stack.extend(c for c in co.co_consts if isinstance(c, types.CodeType))
        raw, names = co.co_code, co.co_names
        extended = 0
        chained = False
        for i in range(0, len(raw), 2):
            op = raw[i]
            arg = extended | raw[i + 1]
            if op == _EXTENDED_ARG:
                extended = arg << 8
                continue
            extended = 0
            if op in _LOAD_GLOBALS:
                found.add(names[arg >> _GLOBAL_SHIFT.get(op, 0)])
                chained = True
            elif op in _LOAD_ATTRS and chained:
                attrs.add(names[arg >> (_ATTR_SHIFT if op == _LOAD_ATTR else 0)])
            elif op not in _CHAIN_KEEP:
                chained = False
    return found, attrs


_EXTENDED_ARG = opcode.EXTENDED_ARG
_LOAD_ATTR = opcode.opmap["LOAD_ATTR"]


def _ast_reads(node: ast.AST) -> _Reads:
    found: set[str] = set()
    attrs: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            attrs.add(sub.attr)
    return found, attrs


# ---------------------------------------------------------------------------------------------
# Code identity
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeIdentity:
    """What a step's code is, for the cache key and for "diff since the cached version"."""

    hash: str
    functions: dict[str, str] = field(default_factory=dict)
    """"module:qualname" -> hash of that one function, class or constant."""
    sources: dict[str, str] = field(default_factory=dict)
    """"module:qualname" -> its source text as written (for a constant: its assignment)."""
    packages: dict[str, str] = field(default_factory=dict)
    """Third-party top-level package -> installed version."""
    root: str = ""
    """The key of the step function itself in `functions`."""


_MEMO: weakref.WeakKeyDictionary[Any, dict[str, CodeIdentity]] = weakref.WeakKeyDictionary()
_MODES = ("ast", "source")


def code_identity(func: Any, *, mode: str = "ast") -> CodeIdentity:
    """Identity of a step's code: its normalised AST plus the user code it references.

    mode="ast" ignores comments, formatting, docstrings and decorators; mode="source" hashes
    the source text as written (flowyml's behaviour). Memoised per function object.
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
    identity = _IdentityWalk(mode).run(func)
    with contextlib.suppress(TypeError):  # not weak-referenceable: computed each time
        _MEMO.setdefault(func, {})[mode] = identity
    return identity


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
        from .step import Step
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

    # -- driving --------------------------------------------------------------------------------

    def run(self, func: Any) -> CodeIdentity:
        func = _unwrap(func)
        code = getattr(func, "__code__", None)
        if code is not None:
            self.root_dir = os.path.dirname(code.co_filename)
        root = self.visit_code_object(func, root=True)
        while self.queue:
            self.visit_code_object(self.queue.pop(), root=False)
        h = xxh3_128()
        _feed(
            (
                self.mode,
                self.hash_parts.get("\x00root", ""),
                sorted(self.hash_parts.items()),
                sorted(self.packages.items()),
            ),
            h,
            _Ctx(),
        )
        return CodeIdentity(
            hash=h.hexdigest(),
            functions=self.functions,
            sources=self.sources,
            packages=self.packages,
            root=root,
        )

    def location(self, path: str | None, module: str, qualname: str) -> str:
        """A key for the hash that survives the module being loaded under another name."""
        if path and _kind_of_path(path) == "user":
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
        path = code.co_filename if code is not None else _class_file(obj)
        real_file = bool(path) and not path.startswith("<")
        kind = _kind_of_path(path) if real_file else _module_kind(module)
        if kind == "user":
            if id(obj) not in self.seen:
                self.seen[id(obj)] = ""
                self.keep.append(obj)
                self.queue.append(obj)
        elif kind == "third":
            self.package_of(module)

    def package_of(self, module: str | None) -> None:
        if module and _module_kind(module) == "third":
            top, version = _package_version(module)
            self.packages[top] = version

    def module(self, module: types.ModuleType, attrs: set[str], visiting: set[int]) -> None:
        kind = _kind_of_path(getattr(module, "__file__", None))
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
            _feed_top(value, h, _Ctx(on_code=self.code_ref))
            digest = h.hexdigest()
        except Unfingerprintable:
            digest = xxh3_128(b"unfingerprintable:" + _type_tag(cls)).hexdigest()
        module, _, name = key.partition(":")
        parsed = _source_file(path) if path else None
        source = parsed.assignment(name) if parsed is not None else None
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
            _feed_top(obj, h, _Ctx(on_code=self.code_ref))
        except Unfingerprintable:
            h.update(_type_tag(type(obj)))
        location = "\x00root" if root else key
        return self.add(key, location, h.hexdigest(), None)

    def visit_function(self, func: types.FunctionType, root: bool) -> str:
        self.seen[id(func)] = ""
        code = func.__code__
        path = code.co_filename
        key = f"{func.__module__}:{func.__qualname__}"
        node = self.find_function(func)
        step_cls = _step_class()
        strip = root or (
            step_cls is not None and isinstance(func.__globals__.get(func.__name__), step_cls)
        )
        source: str | None = None
        if node is not None:
            digest, source = _node_digest(node[0], node[1], strip, self.mode)
        else:
            digest = _code_digest(code)
        extra = self.defaults_digest(func)
        if extra:
            digest = xxh3_128((digest + extra).encode()).hexdigest()
        location = "\x00root" if root else self.location(path, func.__module__, func.__qualname__)
        unique = self.add(key, location, digest, source)
        # What the body reads: globals, module attributes, closure cells.
        found, attrs = _code_reads(code)
        if node is not None and not strip and isinstance(node[1], _DEF_TYPES):
            for decorator in node[1].decorator_list:
                more, more_attrs = _ast_reads(decorator)
                found |= more
                attrs |= more_attrs
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
            _feed_top(values, h, _Ctx(on_code=self.code_ref))
        except Unfingerprintable:
            return "unfingerprintable-default"
        return h.hexdigest()

    def find_function(self, func: types.FunctionType) -> tuple[_SourceFile, ast.AST] | None:
        code = func.__code__
        source = _source_file(code.co_filename)
        if source is None:
            return None
        if code.co_name == "<lambda>":
            candidates = source.lambdas(code.co_firstlineno)
            if len(candidates) > 1:
                positions = [p for p in code.co_positions() if p[2]]
                if positions:
                    line, col = positions[0][0], positions[0][2]
                    candidates = [
                        c for c in candidates if (c.body.lineno, c.body.col_offset) == (line, col)
                    ]
            return (source, candidates[0]) if len(candidates) == 1 else None
        node = source.defs.get((code.co_firstlineno, code.co_name))
        return (source, node) if node is not None else None

    def visit_class(self, cls: type) -> str:
        self.seen[id(cls)] = ""
        key = f"{cls.__module__}:{cls.__qualname__}"
        path = _class_file(cls)
        namespace = _class_globals(cls)
        node = None
        source = _source_file(path) if path else None
        if source is not None and "<locals>" not in cls.__qualname__:
            node = source.find_class(cls.__qualname__)
        text: str | None = None
        if source is not None and node is not None:
            digest, text = _node_digest(source, node, False, self.mode)
            found, attrs = _ast_reads(node)
        else:
            digest, (found, attrs) = self.class_members_digest(cls)
        unique = self.add(key, self.location(path, cls.__module__, cls.__qualname__), digest, text)
        for base in cls.__bases__:
            if base is not object:
                self.code_ref(base)
        if namespace is not None:
            self.globals_read(namespace, found, attrs, path)
        return unique

    def class_members_digest(self, cls: type) -> tuple[str, _Reads]:
        """A class whose source cannot be found: its methods' code and its plain attributes."""
        h = xxh3_128()
        found: set[str] = set()
        attrs: set[str] = set()
        for name in sorted(vars(cls)):
            if name in ("__dict__", "__weakref__", "__module__", "__doc__"):
                continue
            member = _unwrap(vars(cls)[name])
            _feed(name, h, _Ctx())
            if isinstance(member, types.FunctionType):
                h.update(_code_digest(member.__code__).encode())
                more, more_attrs = _code_reads(member.__code__)
                found |= more
                attrs |= more_attrs
            else:
                try:
                    _feed_top(member, h, _Ctx(on_code=self.code_ref))
                except Unfingerprintable:
                    h.update(_type_tag(type(member)))
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
