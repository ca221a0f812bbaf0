"""Normalised AST digests: a definition's structure and constants, without its formatting.

Comments, whitespace, docstrings and positions never reach the digest, so running a formatter
re-runs nothing; identifiers and literal constants do, exactly and typed.
"""

from __future__ import annotations

import ast

from xxhash import xxh3_128

from .sources import DEF_TYPES, SourceFile

__all__ = ["Reads", "ast_reads", "node_digest"]

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
