"""Argument helpers shared by the headless commands."""

from __future__ import annotations

import argparse

from ..engine.cache import DEFAULT_CACHE_DIR, CacheStore, open_store, store_path
from ..engine.errors import FlowymlError


def add_cache_dir(parser: argparse.ArgumentParser, default: str | None = DEFAULT_CACHE_DIR) -> None:
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=default,
        help=f"the cache directory (default: {default or 'the pipeline own cache_dir'})",
    )


def add_shared(parser: argparse.ArgumentParser, *, blobs_url_optional: bool = False) -> None:
    """--shared and --blobs; `blobs_url_optional`: `--blobs` alone means $FLOWYML_TUI_BLOBS
    (`cache gc --blobs` asks for the blob store to be collected too)."""
    parser.add_argument(
        "--shared",
        metavar="URL",
        help="the team's shared cache, redis://host:6379/0 (default: $FLOWYML_TUI_SHARED); "
        "needs the team secret in $FLOWYML_TUI_SECRET",
    )
    parser.add_argument(
        "--blobs",
        metavar="URL",
        nargs="?" if blobs_url_optional else None,
        const="" if blobs_url_optional else None,
        help="the team's blob store for big values, s3://bucket/prefix or file:///folder "
        "(default: $FLOWYML_TUI_BLOBS); needs the team secret in $FLOWYML_TUI_SECRET",
    )


def open_existing_store(
    cache_dir: str,
    shared: str | None = None,
    *,
    blobs: str | None = None,
    local_only: bool = False,
) -> CacheStore:
    """The store at `cache_dir`; a clear error rather than a new empty cache if it is missing.
    `local_only`: the local store even if $FLOWYML_TUI_SHARED names a shared tier."""
    if not (store_path(cache_dir) / "store").is_dir():
        raise FlowymlError(f"no cache at {cache_dir}; run a pipeline first or pass --cache-dir DIR")
    if local_only:
        return CacheStore(store_path(cache_dir))
    return open_store(cache_dir, shared=shared, blobs=blobs)
