"""Where a cache lives: the dir a path or `file://` URL names (no store is opened here)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import CacheError
from .private import refuse_empty


def store_path(spec: str | os.PathLike[str]) -> Path:
    """The cache dir a spec names: a path, or a `file://` URL."""
    text = os.fspath(spec)
    refuse_empty(text)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "file":
            raise CacheError(
                f"cannot open a cache at {text!r}: a cache dir is a path or a file:// URL "
                f"(the {parts.scheme!r} scheme is not a cache dir)"
            )
        text = parts.path
    return Path(text).expanduser().absolute()
