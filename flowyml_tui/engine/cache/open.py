"""`open_store(spec)`: the one place a store is built from what a user typed."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import CacheError
from .facade import CacheStore
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


def open_store(
    spec: str | os.PathLike[str], *, shared: str | None = None, source_file: str | None = None
) -> CacheStore:
    """Open the store a spec names (a path or `file://` URL), creating a private cache dir.

    With a shared URL (`shared=` or `FLOWYML_TUI_SHARED`) and a team secret, a `TieredStore`
    over the local store and Redis; without a secret, the local store (and a loud warning).
    """
    from .sharing import open_shared, shared_url

    local = CacheStore(store_path(spec))
    url = shared_url(shared)
    tier = open_shared(url, source_file) if url else None
    if tier is None:
        return local
    from .tiered import TieredStore

    return TieredStore(local, tier)  # type: ignore[return-value]  # a Store, like CacheStore
