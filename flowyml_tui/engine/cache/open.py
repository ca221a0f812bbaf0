"""`open_store(spec)`: the one place a store is built from what a user typed."""

from __future__ import annotations

import os

from .ahead import take_opened
from .facade import CacheStore
from .location import store_path


def open_store(
    spec: str | os.PathLike[str],
    *,
    shared: str | None = None,
    blobs: str | os.PathLike[str] | None = None,
    source_file: str | None = None,
) -> CacheStore:
    """Open the store a spec names (a path or `file://` URL), creating a private cache dir.

    With a shared URL (`shared=` or `FLOWYML_TUI_SHARED`) and a team secret, a `TieredStore`
    over the local store and Redis; without a secret, the local store (and a loud warning).
    With a blob store (`blobs=` or `FLOWYML_TUI_BLOBS`) too, Redis keeps the index and big
    values go to the blob store; with a blob store alone, it is the whole shared tier.
    """
    from .blobs.settings import blobs_url
    from .notices import Notices
    from .sharing import open_shared, shared_url, team_secret

    path = store_path(spec)
    local = take_opened(path)  # a spare worker opened it while it waited
    if local is None:
        local = CacheStore(path)
    url, blob_url = shared_url(shared), blobs_url(blobs)
    notices = Notices()
    values = None
    if blob_url:
        from .blobs.settings import open_blobs

        values = open_blobs(blob_url, notices, scratch=local.path / "blobs-tmp")
    tier = open_shared(url, source_file, notices, blobs=values) if url else None
    if tier is None and values is not None:
        from .blobs.settings import open_bucket_tier

        tier = open_bucket_tier(values, team_secret() or b"", source_file)
    if tier is None:
        if notices.standing:  # configured but not used: every run says so
            local.notices = notices
        return local
    from .tiered import TieredStore

    return TieredStore(local, tier)  # type: ignore[return-value]  # a Store, like CacheStore
