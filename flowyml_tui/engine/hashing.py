"""Cache keys: `fingerprint`, `Unfingerprintable` and `register` live in fingerprint.py (values);
`code_identity` and `CodeIdentity` live in code_identity.py (code). Re-exported here."""

from __future__ import annotations

from .code_identity import CodeIdentity, code_identity
from .fingerprint import Unfingerprintable, fingerprint, register

__all__ = ["CodeIdentity", "Unfingerprintable", "code_identity", "fingerprint", "register"]
