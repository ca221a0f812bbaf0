"""Cache keys: value fingerprints and code identities, one package whose imports go one way.

    encoder      bytes: fixed-width packing, type tags, the walk context
    fingerprint  values: `fingerprint`, `register` (user types, through an `Encoder`)
    origin       where code comes from: the user's project, the stdlib, a package (by version)
    sources      source files parsed once, definitions found by line
    normalise    normalised AST digests (formatting, comments, docstrings don't count)
    bytecode     code objects: the identity of code without source, the globals code reads
    identity     `code_identity`: the transitive walk over the user code a step references

Each module imports only those above it.
"""

from __future__ import annotations

from .fingerprint import Encoder, Unfingerprintable, fingerprint, register
from .identity import CodeIdentity, code_identity
from .origin import is_user_file

__all__ = [
    "CodeIdentity",
    "Encoder",
    "Unfingerprintable",
    "code_identity",
    "fingerprint",
    "is_user_file",
    "register",
]
