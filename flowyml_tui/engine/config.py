"""Where flowyml-tui keeps each user's settings: computed here only, so every reader agrees.

`$XDG_CONFIG_HOME/flowyml-tui/` (default `~/.config/flowyml-tui/`) holds `keymap.toml`,
`themes/`, `settings.toml` (what the app remembers, such as the theme chosen with `t`) and
`config.toml` (what the user writes: the rate savings are priced at). The themes that ship with
flowyml-tui are the project's `themes/` folder instead, copied into the wheel (see
`flowyml_tui.tui.themes.BUNDLED_THEMES_DIR`). In the engine because the engine reads the rate,
and the engine imports nothing of ours outside itself.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "flowyml-tui"


def config_dir() -> Path:
    """flowyml-tui's folder in the user's config dir (XDG_CONFIG_HOME is honoured)."""
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(home) / APP_DIR_NAME


def keymap_path() -> Path:
    """The user's key remapping file: binding id = "keys"."""
    return config_dir() / "keymap.toml"


def user_themes_dir() -> Path:
    """The user's own theme files (.toml or .json), loaded after the bundled ones."""
    return config_dir() / "themes"


def settings_path() -> Path:
    """What the workbench remembers between sessions (the theme chosen with `t`)."""
    return config_dir() / "settings.toml"


def user_config_path() -> Path:
    """The user's own settings, written by hand: `cost_per_hour` and `currency` (issue 28)."""
    return Path(user_config_file())


_config_file: tuple[tuple[str | None, str | None], str] | None = None


def user_config_file() -> str:
    """`user_config_path` as a string, worked out again only when the environment that
    names it changes: every run reads it, and building it was a tenth of a cached
    100-step run's fixed cost."""
    global _config_file
    env = (os.environ.get("XDG_CONFIG_HOME"), os.environ.get("HOME"))
    if _config_file is None or _config_file[0] != env:
        _config_file = (env, str(config_dir() / "config.toml"))
    return _config_file[1]
