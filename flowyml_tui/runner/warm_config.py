"""Whether the spare worker imports the last run's libraries: `warm` in the user's config.toml.

`warm = false` there turns it off for every workbench, as `--no-warm` does for one.
"""

from __future__ import annotations

import tomllib

from flowyml_tui.engine.config import user_config_path
from flowyml_tui.engine.errors import FlowymlError


class WarmSettingError(FlowymlError):
    """config.toml's `warm` is not a boolean, or the file cannot be read."""


def configured_warm() -> bool:
    """`warm` from config.toml; true when the file or the key is absent."""
    path = user_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError) as exc:
        raise WarmSettingError(f"cannot read {path}: {exc}; fix or remove it") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WarmSettingError(f"{path} is not valid TOML ({exc}); fix or remove it") from None
    value = data.get("warm", True)
    if not isinstance(value, bool):
        raise WarmSettingError(f"{path}: warm must be true or false, not {value!r}")
    return value
