"""Which blob store a run uses: `--blobs URL`, `Pipeline(blobs=URL)` or `FLOWYML_TUI_BLOBS`.

The URL is any fsspec location: a path or ``file:///mnt/team-cache`` (a shared folder, NFS),
``s3://bucket/prefix`` through s3fs (endpoint and credentials from the standard AWS settings
s3fs reads: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, profiles),
or another fsspec protocol whose package is installed. Values at or above
``FLOWYML_TUI_BLOBS_THRESHOLD`` bytes (default 1 MB) go there when a Redis tier holds the
index; with the bucket alone, every value does.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from ...errors import SettingError
from ..notices import Notices
from ..sharing import SECRET_ENV, SECRET_FILE_ENV, env_number, project_name, team_secret, tell_once

BLOBS_ENV = "FLOWYML_TUI_BLOBS"
THRESHOLD_ENV = "FLOWYML_TUI_BLOBS_THRESHOLD"
DEFAULT_THRESHOLD = 2**20
"""Values this big or bigger go to the blob store when Redis holds the index (1 MB)."""
S3_RETRIES = 2
S3_OPTIONS = {
    "config_kwargs": {"connect_timeout": 5, "retries": {"max_attempts": 2}},
    "skip_instance_cache": True,
}
"""s3fs's defaults retry for about a minute before a dead endpoint fails: a run would stall.
Two tries and a 5 s connect timeout, then the breaker keeps the run local. A fresh instance
per store, so the AWS settings of the moment are the ones read."""


def blobs_url(blobs: str | os.PathLike[str] | None = None) -> str | None:
    """The blob store's URL, if one is configured (a bare path means a local folder)."""
    url = os.fspath(blobs) if blobs else os.environ.get(BLOBS_ENV) or None
    if url is None:
        return None
    if not url.strip():
        raise SettingError(
            f"the blob store (--blobs, ${BLOBS_ENV} or Pipeline(blobs=...)) is empty; use "
            "s3://BUCKET/PREFIX or file:///PATH/TO/FOLDER, or unset it"
        )
    if "://" not in url:
        return Path(url).expanduser().absolute().as_uri()
    scheme = urlsplit(url).scheme
    try:
        import fsspec
    except ImportError:
        return url  # open_blobs says what to install, once
    if scheme not in fsspec.available_protocols():
        raise SettingError(
            f"the blob store {url!r} uses {scheme}://, which fsspec does not know; use "
            "s3://BUCKET/PREFIX or file:///PATH/TO/FOLDER"
        )
    return url


def threshold() -> int:
    return env_number(THRESHOLD_ENV, DEFAULT_THRESHOLD, int, least=1)


def check_blob_settings(blobs: str | None = None) -> None:
    """Everything the blob tier reads from arguments and environment, checked up front."""
    if blobs_url(blobs) is None:
        return
    team_secret()
    threshold()


def open_blobs(url: str, notices: Notices, *, scratch: Path | None = None):  # -> BlobValues | None
    """The blob store at `url` behind a breaker reporting into `notices`, or None (told why,
    once) when fsspec or the backend's package is missing or no team secret is set."""
    if team_secret() is None:
        tell_once(
            f"BLOB STORE NOT USED: {url} is configured but no team secret is set; entries in "
            f"a shared store must be signed. Set {SECRET_ENV} (or {SECRET_FILE_ENV}=PATH to a "
            "key file) to the same value on every machine of the team",
            notices,
        )
        return None
    try:
        from .breaker import Breaker
        from .store import BlobStore
        from .values import BlobValues

        s3 = urlsplit(url).scheme in ("s3", "s3a")
        store = BlobStore(url, Breaker(url, notices), scratch=scratch, **(S3_OPTIONS if s3 else {}))
        if s3:
            store.fs.retries = S3_RETRIES  # a class attribute of s3fs's, not an argument
    except ImportError as exc:
        tell_once(
            f"BLOB STORE NOT USED: {url} needs {exc.name or 'fsspec'}: "
            "pip install 'flowyml-tui[blobs]'",
            notices,
        )
        return None
    return BlobValues(store, threshold())


def open_bucket_tier(values, secret: bytes, source_file: str | None = None):  # -> BucketTier
    """The shared tier of a bucket alone: its index beside the blobs."""
    from ..signed import Signer
    from .index import BucketIndex
    from .tier import BucketTier

    project = project_name(source_file)
    store = values.store
    index = BucketIndex(store.fs, store.root, project, Signer(secret), store.breaker)
    return BucketTier(index, values, project=project)
