"""Source files, parsed once: a module's definitions found by the line a code object names.

A file is re-read only when its stat changes (and content-checked while its mtime is recent,
so two saves within one second are not missed); digests of its definitions are cached on it.
Inside `one_read_per_file()` (a run, a plan) each file is read at most once.
"""

from __future__ import annotations

import ast
import os
import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from . import code_cache as codecache

__all__ = [
    "DEF_TYPES",
    "SUMMARY_FORMAT",
    "Def",
    "SourceFile",
    "first_line",
    "function_definition",
    "one_read_per_file",
    "source_file",
]

Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
"""A definition whose source is hashed: a function or a class."""
DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BODY_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
SUMMARY_FORMAT = "defs-2"
"""Version of the persisted summary (normalise's digest format): bump it when either changes."""


class SourceFile:
    """One module file: its text, parsed on first use, with its definitions indexed by first
    line and name. Bytes that do not parse (a file saved mid-edit since it was imported)
    raise SyntaxError when the tree is asked for."""

    def __init__(self, path: str, text: str, key: str = "", summary: bytes | None = None) -> None:
        self.path = path
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.key = key
        """`codecache.source_key` of the file's bytes: what its persisted summary is named by."""
        self.summary_blob = summary
        """The persisted digest summary of exactly these bytes, when one was found on disk."""
        self.summary: object = None  # the decoded summary; normalise owns its shape
        self._tree: ast.Module | None = None
        self._parsed = False
        self._defs: dict[tuple[int, str], Def] | None = None
        self.digests: dict[tuple[int, int, bool, str], str] = {}
        self._lambdas: dict[int, list[ast.Lambda]] | None = None

    def _parse(self) -> ast.Module:
        if self._tree is None:
            self._tree = ast.parse(self.text, filename=self.path)
            self._parsed = True
        return self._tree

    @property
    def tree(self) -> ast.Module:
        """The module's AST, parsed on first use (a persisted summary usually spares it)."""
        return self._parse()

    @property
    def parsed(self) -> bool:
        """Whether this file's text was parsed in this process (its tree may be gone since)."""
        return self._parsed

    def parses(self) -> bool:
        """Whether the text parses, parsing it now if need be: a file saved mid-edit since
        it was imported does not, and has no definition to hash."""
        try:
            self._parse()
        except (SyntaxError, ValueError):
            return False
        return True

    def forget_tree(self) -> None:
        """Drop the AST once the summary holds what definitions need: a 10,000-step file's
        tree is 500,000 objects, which the process kept as long as the file stayed unchanged.
        Only a lambda parses the file again."""
        self._tree = None
        self._defs = None

    @property
    def defs(self) -> dict[tuple[int, str], Def]:
        """Functions and classes by (first line, name); the line a code object names."""
        if self._defs is None:
            self._defs = {}
            # Only statement lists can hold a def, so expressions are never walked.
            stack = [self.tree.body]
            while stack:
                for node in stack.pop():
                    if isinstance(node, DEF_TYPES):
                        self._defs[(first_line(node), node.name)] = node
                        stack.append(node.body)
                        continue
                    for name in _BODY_FIELDS:
                        sub = getattr(node, name, None)
                        if sub:
                            stack.append(sub)  # handlers/cases hold nodes with bodies
        return self._defs

    def lambdas(self, line: int) -> list[ast.Lambda]:
        if self._lambdas is None:
            self._lambdas = {}
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Lambda):
                    self._lambdas.setdefault(node.lineno, []).append(node)
        return self._lambdas.get(line, [])

    def segment(self, node: ast.AST) -> str:
        start = first_line(node)
        if isinstance(node, ast.Lambda):
            line = self.lines[node.lineno - 1].encode()
            if node.lineno == node.end_lineno:
                return line[node.col_offset : node.end_col_offset].decode()
        return "".join(self.lines[start - 1 : node.end_lineno])


def first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", None)
    return decorators[0].lineno if decorators else node.lineno  # type: ignore[attr-defined]


_FILES: dict[str, tuple[tuple[int, int, int], str, float, SourceFile | None]] = {}
_FILES_LOCK = threading.Lock()
_RACY_SECONDS = 2.0


_READS: ContextVar[dict[str, SourceFile | None] | None] = ContextVar(
    "flowyml_tui_source_reads", default=None
)
"""Path -> what `source_file` gave inside the current `one_read_per_file()`; None outside."""


@contextmanager
def one_read_per_file() -> Iterator[None]:
    """Inside, `source_file` reads each file at most once.

    The steps of one run are then identified from one version of each file. And a file saved
    within the last seconds, whose mtime cannot be trusted (so every lookup outside re-reads
    and re-hashes it), is not read again for each of its functions: a just-saved 1000-step
    file cost a run ~25 ms of re-reads. Nested scopes share the outer one.
    """
    if _READS.get() is not None:
        yield
        return
    token = _READS.set({})
    try:
        yield
    finally:
        _READS.reset(token)


def source_file(path: str) -> SourceFile | None:
    """Parse a file once; re-read it when it changed (content-checked for recent mtimes)."""
    reads = _READS.get()
    if reads is None:
        return _read_source_file(path)
    if path not in reads:
        reads[path] = _read_source_file(path)
    return reads[path]


def _read_source_file(path: str) -> SourceFile | None:
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
    content = codecache.source_key(data, SUMMARY_FORMAT)
    if cached is not None and cached[1] == content:
        parsed = cached[3]
    else:
        summary = codecache.load("defs", content)
        try:
            parsed = SourceFile(path, data.decode("utf-8"), content, summary)
        except UnicodeDecodeError:
            parsed = None
    with _FILES_LOCK:
        _FILES[path] = (stat_key, content, time.time(), parsed)
    return parsed


def function_definition(func: types.FunctionType) -> tuple[SourceFile, ast.AST] | None:
    """The parsed file and the `def` (or lambda) node of a function; None without source."""
    code = func.__code__
    source = source_file(code.co_filename)
    if source is None or not source.parses():
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
