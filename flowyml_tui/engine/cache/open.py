"""`open_store(spec)`: the one place a store is built from what a user typed."""

from __future__ import annotations

import os

from .facade import CacheStore
from .location import store_path


def open_store(
    spec: str | os.PathLike[str], *, shared: str | None = None, source_file: str | None = None
) -> CacheStore:
    """Open the store a spec names (a path or `file://` URL), creating a private cache dir.

    With a shared URL (`shared=` or `FLOWYML_TUI_SHARED`) and a team secret, a `TieredStore`
    over the local store and Redis; without a secret, the local store (and a loud warning).
    """
    from .notices import Notices
    from .sharing import open_shared, shared_url

    local = CacheStore(store_path(spec))
    url = shared_url(shared)
    notices = Notices()
    tier = open_shared(url, source_file, notices) if url else None
    if tier is None:
        if notices.standing:  # configured but not used: every run says so
            local.notices = notices
        return local
    from .tiered import TieredStore

    return TieredStore(local, tier)  # type: ignore[return-value]  # a Store, like CacheStore
