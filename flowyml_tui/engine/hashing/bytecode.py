"""Code objects: the identity of code without source, and the globals any code reads.

Code made by `exec`/`eval` (generated code, a REPL, a notebook) has no file to parse, so it is
identified by its code object: bytecode, constants (nested code objects included), names and
signature. The values it captures are not in the code object; the identity walk adds them.
"""

from __future__ import annotations

import opcode
import sys
import types
from typing import TYPE_CHECKING

from xxhash import xxh3_128

from .encoder import Walk, pack_u64, type_tag
from .fingerprint import Unfingerprintable, feed

if TYPE_CHECKING:
    from .normalise import Reads

__all__ = ["code_digest", "code_reads"]


def code_digest(code: types.CodeType) -> str:
    """Fallback for code without source (exec, REPL): the code object, minus positions."""
    h = xxh3_128()
    stack = [code]
    while stack:
        co = stack.pop()
        h.update(co.co_code)
        feed(
            (co.co_names, co.co_varnames, co.co_freevars, co.co_cellvars, co.co_argcount),
            h,
            Walk(),
        )
        h.update(
            pack_u64(co.co_kwonlyargcount) + pack_u64(co.co_posonlyargcount) + pack_u64(co.co_flags)
        )
        for const in co.co_consts:
            if isinstance(const, types.CodeType):
                h.update(b"code")
                stack.append(const)
            else:
                try:
                    feed(const, h, Walk())
                except Unfingerprintable:
                    h.update(type_tag(type(const)))
    return h.hexdigest()


_LOAD_GLOBALS = {opcode.opmap[n] for n in ("LOAD_GLOBAL", "LOAD_NAME") if n in opcode.opmap}
_LOAD_GLOBALS |= {opcode.opmap[n] for n in ("LOAD_FROM_DICT_OR_GLOBALS",) if n in opcode.opmap}
_LOAD_ATTRS = {opcode.opmap[n] for n in ("LOAD_ATTR", "LOAD_METHOD") if n in opcode.opmap}
_GLOBAL_SHIFT = {opcode.opmap["LOAD_GLOBAL"]: 1}  # 3.11+: the low bit says "push NULL"
_ATTR_SHIFT = 1 if sys.version_info >= (3, 12) else 0  # 3.12+: the low bit says "method"
_CHAIN_KEEP = {opcode.opmap[n] for n in ("CACHE", "EXTENDED_ARG", "NOP") if n in opcode.opmap}


def code_reads(code: types.CodeType) -> Reads:
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


def _scan_bytecode(code: types.CodeType) -> Reads:
    found: set[str] = set()
    attrs: set[str] = set()
    stack = [code]
    while stack:
        co = stack.pop()
        stack.extend(c for c in co.co_consts if isinstance(c, types.CodeType))
        raw, names = co.co_code, co.co_names
        if not names:  # every global or attribute load names one there: nothing to find
            continue
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
