"""Errors of the call-level cache: a backend that failed (or cannot be used as configured)."""

from __future__ import annotations

from ..errors import FlowymlError


class CallCacheError(FlowymlError):
    """A call cache's backend failed and the primitive was created with `strict=True`."""
