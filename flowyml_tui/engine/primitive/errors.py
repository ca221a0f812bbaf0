"""Errors of the call-level cache: a backend that failed, and one that is not built yet."""

from __future__ import annotations

from ..errors import FlowymlError


class CallCacheError(FlowymlError):
    """A call cache's backend failed and the primitive was created with `strict=True`."""


class BackendNotBuilt(CallCacheError, NotImplementedError):
    """A backend the API names but this version does not provide yet."""
