"""Which shared tier a run uses: URL, team secret and project name, from arguments or env.

`FLOWYML_TUI_SHARED` (or `shared=` / `--shared`) names the Redis URL; the team secret is
`FLOWYML_TUI_SECRET`, else the contents of the file `FLOWYML_TUI_SECRET_FILE` names. With no
secret the shared tier is not used at all, and the user is told once: never unsigned sharing.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

SHARED_ENV = "FLOWYML_TUI_SHARED"
SECRET_ENV = "FLOWYML_TUI_SECRET"
SECRET_FILE_ENV = "FLOWYML_TUI_SECRET_FILE"
PROJECT_ENV = "FLOWYML_TUI_PROJECT"
TTL_ENV = "FLOWYML_TUI_SHARED_TTL"
MAX_VALUE_ENV = "FLOWYML_TUI_SHARED_MAX_VALUE"
RETRY_ENV = "FLOWYML_TUI_SHARED_RETRY"

_told: set[str] = set()


def shared_url(shared: str | None = None) -> str | None:
    return shared or os.environ.get(SHARED_ENV) or None


def team_secret() -> bytes | None:
    secret = os.environ.get(SECRET_ENV)
    if secret:
        return secret.encode()
    name = os.environ.get(SECRET_FILE_ENV)
    if name:
        text = Path(name).expanduser().read_bytes().strip()
        return text or None
    return None


def project_name(source_file: str | None = None) -> str:
    """`FLOWYML_TUI_PROJECT`, else the git checkout's root folder name, else the file's folder."""
    if os.environ.get(PROJECT_ENV):
        return os.environ[PROJECT_ENV]
    folder = Path(source_file).absolute().parent if source_file else Path.cwd()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate.name
    return folder.name


def tell_once(message: str) -> None:
    """Warn loudly, once per process per message."""
    if message not in _told:
        _told.add(message)
        warnings.warn(message, stacklevel=3)


def open_shared(url: str, source_file: str | None = None):  # -> RedisTier | None
    """The shared tier at `url`, or None (told why, once) if it cannot be used."""
    secret = team_secret()
    if secret is None:
        tell_once(
            f"SHARED CACHE NOT USED: {url} is configured but no team secret is set; entries "
            f"in a shared cache must be signed. Set {SECRET_ENV} (or {SECRET_FILE_ENV}=PATH "
            "to a key file) to the same value on every machine of the team"
        )
        return None
    try:
        from .redis_tier import DEFAULT_MAX_VALUE, DEFAULT_TTL, RETRY_AFTER, RedisTier
    except ImportError:
        tell_once(f"SHARED CACHE NOT USED: {url} needs redis-py: pip install 'flowyml-tui[redis]'")
        return None
    return RedisTier(
        url,
        project=project_name(source_file),
        secret=secret,
        ttl=int(os.environ.get(TTL_ENV, DEFAULT_TTL)),
        max_value=int(os.environ.get(MAX_VALUE_ENV, DEFAULT_MAX_VALUE)),
        retry_after=float(os.environ.get(RETRY_ENV, RETRY_AFTER)),
    )
