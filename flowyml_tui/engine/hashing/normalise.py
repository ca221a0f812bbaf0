"""Normalised AST digests: a definition's structure and constants, without its formatting.

Comments, whitespace, docstrings and positions never reach the digest, so running a formatter
re-runs nothing; identifiers and literal constants do, exactly and typed.

The first time a file's bytes are met, every definition in it is digested at once and the
result (a "summary") is kept in the private code cache, named by a hash of those bytes: a
fresh process then finds a definition's digest without parsing or normalising anything. Only
per-definition digests are kept; the walk over what a step references stays live, so an edit
to a helper in another file still changes the identity of every step that uses it.
"""

from __future__ import annotations

import ast
import marshal
import types

from xxhash import xxh3_128

from ..collector import collection_paused
from . import code_cache as codecache
from .sources import DEF_TYPES, SourceFile, first_line, function_definition, source_file

__all__ = [
    "Reads",
    "assignment_text",
    "ast_reads",
    "class_digest",
    "function_digest",
    "node_digest",
]

Reads = tuple[set[str], set[str]]
"""(global names read, attribute names read off a global): what code references."""

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
    is_owner = isinstance(node, (*DEF_TYPES, ast.Module))
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


def node_digest(
    source: SourceFile, node: ast.AST, strip_decorators: bool, mode: str
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


def ast_reads(node: ast.AST) -> Reads:
    """Names a definition (or a decorator) mentions: the source-side twin of `code_reads`."""
    found: set[str] = set()
    attrs: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            attrs.add(sub.attr)
    return found, attrs


# A file's summary, as marshal writes it (plain tuples, dicts and strings; names as sorted
# tuples, not frozensets: a tuple of strings is one the collector stops tracking, and a
# 10,000-step file's summary is kept for the process's life):
#   defs:    (first line, name) -> (first line, last line, ast digest, ast digest without
#            decorators, names the decorators read, attributes they read)
#   classes: qualname -> (first line, last line, ast digest, names read, attributes read)
#   assign:  module-level name -> the source of the statement that last binds it
_Summary = tuple[
    dict[tuple[int, str], tuple[int, int, str, str, tuple[str, ...], tuple[str, ...]]],
    dict[str, tuple[int, int, str, tuple[str, ...], tuple[str, ...]]],
    dict[str, str],
]
_NO_READS: Reads = (set(), set())
_UNPARSABLE: _Summary = ({}, {}, {})
"""The summary of bytes that do not parse: no definition in them has a source to hash."""


def function_digest(
    func: types.FunctionType, strip: bool, mode: str
) -> tuple[str, str, Reads] | None:
    """(digest, source text, what its decorators read) of a function; None without source."""
    code = func.__code__
    source = source_file(code.co_filename)
    if source is None:
        return None
    if code.co_name == "<lambda>":
        found = function_definition(func)
        if found is None:
            return None
        digest, text = node_digest(found[0], found[1], strip, mode)
        return digest, text, _NO_READS
    entry = _summary(source)[0].get((code.co_firstlineno, code.co_name))
    if entry is None:
        return None
    start, end, full, stripped, dec_names, dec_attrs = entry
    text = "".join(source.lines[start - 1 : end])
    if mode == "source":
        return _text_digest(text), text, (set(dec_names), set(dec_attrs))
    return (stripped if strip else full), text, (set(dec_names), set(dec_attrs))


def class_digest(source: SourceFile, qualname: str, mode: str) -> tuple[str, str, Reads] | None:
    """(digest, source text, what it reads) of the class a qualname names in a file, or None."""
    entry = _summary(source)[1].get(qualname)
    if entry is None:
        return None
    start, end, full, names, attrs = entry
    text = "".join(source.lines[start - 1 : end])
    return (_text_digest(text) if mode == "source" else full), text, (set(names), set(attrs))


def assignment_text(source: SourceFile, name: str) -> str | None:
    """The source of the module-level statement that last binds `name` (a constant)."""
    return _summary(source)[2].get(name)


def _text_digest(text: str) -> str:
    return xxh3_128(text.encode("utf-8", "surrogatepass")).hexdigest()


def _summary(source: SourceFile) -> _Summary:
    summary = source.summary
    if summary is None:
        if source.summary_blob is not None:
            try:
                summary = marshal.loads(source.summary_blob)
            except (EOFError, ValueError, TypeError):
                summary = None
            source.summary_blob = None
        if not _well_formed(summary):
            with collection_paused():  # the tree is made, summarised and dropped in one pause
                try:
                    summary = _build_summary(source)
                except (SyntaxError, ValueError):  # saved mid-edit since it was imported
                    summary = _UNPARSABLE
                source.forget_tree()
            if source.key and summary is not _UNPARSABLE:
                codecache.store("defs", source.key, marshal.dumps(summary))
        source.summary = summary
    return summary  # type: ignore[return-value]


def _well_formed(summary: object) -> bool:
    return (
        isinstance(summary, tuple)
        and len(summary) == 3
        and all(isinstance(part, dict) for part in summary)
    )


def _build_summary(source: SourceFile) -> _Summary:
    defs = {}
    for key, node in source.defs.items():
        if isinstance(node, ast.ClassDef):
            continue  # classes are found by qualname, below
        full, stripped = _def_digests(node)
        names: set[str] = set()
        attrs: set[str] = set()
        for decorator in node.decorator_list:
            more, more_attrs = ast_reads(decorator)
            names |= more
            attrs |= more_attrs
        defs[key] = (
            first_line(node),
            node.end_lineno or node.lineno,
            full,
            stripped,
            tuple(sorted(names)),
            tuple(sorted(attrs)),
        )
    classes: dict[str, tuple[int, int, str, tuple[str, ...], tuple[str, ...]]] = {}
    pending: list[tuple[str, list[ast.stmt]]] = [("", source.tree.body)]
    while pending:
        prefix, body = pending.pop()
        last: dict[str, ast.ClassDef] = {}
        for node in body:  # the last definition wins, as at run time
            if isinstance(node, ast.ClassDef):
                last[node.name] = node
        for name, node in last.items():
            qualname = prefix + name
            tokens: list[str] = []
            _ast_tokens(node, tokens, False)
            found, attrs = ast_reads(node)
            classes[qualname] = (
                first_line(node),
                node.end_lineno or node.lineno,
                _join_digest(tokens),
                tuple(sorted(found)),
                tuple(sorted(attrs)),
            )
            pending.append((qualname + ".", node.body))
    assign: dict[str, str] = {}
    for node in source.tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                assign[target.id] = source.segment(node)
    return defs, classes, assign


def _def_digests(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, str]:
    """(digest, digest without decorators) of a def from one walk: the decorators' tokens
    are one run of the token list, so leaving that run out is what stripping them writes."""
    tokens: list[str] = [type(node).__name__]
    cut = (0, 0)
    for name in node._fields:
        if name in _SKIP_FIELDS:
            continue
        start = len(tokens)
        value = getattr(node, name, None)
        if isinstance(value, list):
            if name == "body" and value and _is_docstring(value[0]):
                value = value[1:]
            tokens.append(f"{name}[{len(value)}")
            for item in value:
                if isinstance(item, ast.AST):
                    _ast_tokens(item, tokens, False)
                else:
                    tokens.append(repr(item))
        elif isinstance(value, ast.AST):
            tokens.append(name)
            _ast_tokens(value, tokens, False)
        else:
            tokens.append(repr(value))
        if name == "decorator_list":
            cut = (start, len(tokens))
    return _join_digest(tokens), _join_digest(tokens[: cut[0]] + tokens[cut[1] :])


def _join_digest(tokens: list[str]) -> str:
    return xxh3_128("\x00".join(tokens).encode("utf-8", "surrogatepass")).hexdigest()
