"""Where flowyml-tui keeps each user's settings (`flowyml_tui.engine.config`, named here for
the TUI and the CLI)."""

from __future__ import annotations

from .engine.config import (
    APP_DIR_NAME,
    config_dir,
    keymap_path,
    settings_path,
    user_config_path,
    user_themes_dir,
)

__all__ = [
    "APP_DIR_NAME",
    "config_dir",
    "keymap_path",
    "settings_path",
    "user_config_path",
    "user_themes_dir",
]
