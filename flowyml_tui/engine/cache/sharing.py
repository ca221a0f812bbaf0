"""Which shared tier a run uses: URL, team secret and project name, from arguments or env.

`FLOWYML_TUI_SHARED` (or `shared=` / `--shared`) names the Redis URL; the team secret is
`FLOWYML_TUI_SECRET`, else the contents of the file `FLOWYML_TUI_SECRET_FILE` names. With no
secret the shared tier is not used at all, and the user is told once: never unsigned sharing.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from ..errors import SettingError
from .notices import NOT_USED, Notices

SHARED_ENV = "FLOWYML_TUI_SHARED"
SECRET_ENV = "FLOWYML_TUI_SECRET"
SECRET_FILE_ENV = "FLOWYML_TUI_SECRET_FILE"
PROJECT_ENV = "FLOWYML_TUI_PROJECT"
TTL_ENV = "FLOWYML_TUI_SHARED_TTL"
MAX_VALUE_ENV = "FLOWYML_TUI_SHARED_MAX_VALUE"
RETRY_ENV = "FLOWYML_TUI_SHARED_RETRY"

REDIS_SCHEMES = ("redis", "rediss", "unix")
N = TypeVar("N", int, float)
_KIND_WORDS = {int: "a whole number", float: "a number"}

_told: set[str] = set()


def shared_url(shared: str | None = None) -> str | None:
    """The shared tier's URL, if one is configured; refused unless it is a Redis URL."""
    url = shared or os.environ.get(SHARED_ENV) or None
    if url is not None and urlsplit(url).scheme not in REDIS_SCHEMES:
        raise SettingError(
            f"the shared cache {url!r} (--shared, ${SHARED_ENV} or Pipeline(shared=...)) is "
            "not a Redis URL; use redis://HOST:6379/0, rediss://HOST:6380/0 or "
            "unix:///PATH/redis.sock"
        )
    return url


def team_secret() -> bytes | None:
    secret = os.environ.get(SECRET_ENV)
    if secret:
        return secret.encode()
    name = os.environ.get(SECRET_FILE_ENV)
    if name:
        try:
            text = Path(name).expanduser().read_bytes().strip()
        except OSError as exc:
            raise SettingError(
                f"cannot read the team secret file {name} (${SECRET_FILE_ENV}): "
                f"{exc.strerror}; point ${SECRET_FILE_ENV} at the key file, or set "
                f"${SECRET_ENV} instead"
            ) from exc
        return text or None
    return None


def env_number(name: str, default: N, kind: type[N], *, least: N) -> N:
    """A number from the environment; a value that is not one is refused by name."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < least:
        raise SettingError(
            f"${name} must be {_KIND_WORDS[kind]} of at least {least}, got {raw!r}; set it to "
            f"e.g. {default}, or unset it for that default"
        )
    return value


def check_shared_settings(shared: str | None = None) -> None:
    """Everything the shared tier reads from arguments and environment, checked up front:
    the workbench calls this before its screen takes over, so a mistake is one line."""
    if shared_url(shared) is None:
        return
    team_secret()
    with contextlib.suppress(ImportError):  # no redis-py: open_shared says so at the run
        tier_limits()


def tier_limits() -> tuple[int, int, float]:
    """(ttl, max_value, retry_after) from the environment, else the tier's defaults."""
    from .redis_tier import DEFAULT_MAX_VALUE, DEFAULT_TTL, RETRY_AFTER

    return (
        env_number(TTL_ENV, DEFAULT_TTL, int, least=1),
        env_number(MAX_VALUE_ENV, DEFAULT_MAX_VALUE, int, least=1),
        env_number(RETRY_ENV, RETRY_AFTER, float, least=0.0),
    )


def project_name(source_file: str | None = None) -> str:
    """`FLOWYML_TUI_PROJECT`, else the git checkout's root folder name, else the file's folder."""
    if os.environ.get(PROJECT_ENV):
        return os.environ[PROJECT_ENV]
    folder = Path(source_file).absolute().parent if source_file else Path.cwd()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate.name
    return folder.name


def tell_once(message: str, notices: Notices | None = None) -> None:
    """Warn loudly, once per process per message; and every run, through `notices`."""
    if notices is not None:
        notices.standing[NOT_USED] = message
    if message not in _told:
        _told.add(message)
        warnings.warn(message, stacklevel=3)


def open_shared(
    url: str, source_file: str | None = None, notices: Notices | None = None, *, blobs=None
):  # -> RedisTier | None
    """The shared tier at `url`, or None (told why, once; and in `notices`) if unusable.
    `blobs` (a `BlobValues`): where values at or above its threshold go instead of Redis."""
    secret = team_secret()
    if secret is None:
        tell_once(
            f"SHARED CACHE NOT USED: {url} is configured but no team secret is set; entries "
            f"in a shared cache must be signed. Set {SECRET_ENV} (or {SECRET_FILE_ENV}=PATH "
            "to a key file) to the same value on every machine of the team",
            notices,
        )
        return None
    try:
        from .redis_tier import RedisTier
    except ImportError:
        tell_once(
            f"SHARED CACHE NOT USED: {url} needs redis-py: pip install 'flowyml-tui[redis]'",
            notices,
        )
        return None
    ttl, max_value, retry_after = tier_limits()
    return RedisTier(
        url,
        project=project_name(source_file),
        secret=secret,
        ttl=ttl,
        max_value=max_value,
        retry_after=retry_after,
        blobs=blobs,
        notices=notices if blobs is not None else None,
    )
