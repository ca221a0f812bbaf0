"""Themes are data: built-in `Theme` objects plus TOML/JSON files validated at start-up.

Every colour the app draws comes from a theme variable. The step-status variables have defaults
derived from the active theme's palette, so any Textual theme works; a theme may override them in
its `variables` table.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES as TEXTUAL_THEMES
from textual.theme import Theme

from ..config import user_themes_dir

STEP_VARIABLES = (
    "step-pending",
    "step-running",
    "step-cached",
    "step-executed",
    "step-failed",
    "step-skipped",
    "step-pinned",
)

DEFAULT_THEME = "flowyml"
_INSTALLED_THEMES = Path(__file__).resolve().parent.parent / "themes"
_CHECKOUT_THEMES = Path(__file__).resolve().parent.parent.parent / "themes"
BUNDLED_THEMES_DIR = _INSTALLED_THEMES if _INSTALLED_THEMES.is_dir() else _CHECKOUT_THEMES
"""The project's `themes/` folder: beside the package in a checkout (an editable install),
copied into it as `flowyml_tui/themes/` in the wheel (`force-include` in pyproject.toml)."""
COLOUR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
THEME_SUFFIXES = (".toml", ".json")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

BUILTIN_THEMES: tuple[Theme, ...] = (
    Theme(
        name="flowyml",
        primary="#5FA8D3",
        secondary="#B48EAD",
        accent="#E6B450",
        warning="#E6B450",
        error="#E0626B",
        success="#7BC47F",
        foreground="#D8DEE9",
        background="#14171C",
        surface="#1B1F26",
        panel="#232934",
        dark=True,
        variables={
            "step-pending": "#6B7280",
            "step-running": "#E6B450",
            "step-cached": "#7BC47F",
            "step-executed": "#5FA8D3",
            "step-failed": "#E0626B",
            "step-skipped": "#8B93A1",
            "step-pinned": "#C39AE0",
        },
    ),
    Theme(
        name="flowyml-light",
        primary="#1F6FB2",
        secondary="#7A4F9A",
        accent="#B7791F",
        warning="#B7791F",
        error="#C0392B",
        success="#2E7D32",
        foreground="#1E2430",
        background="#F7F7F4",
        surface="#EEEEEA",
        panel="#E2E4E0",
        dark=False,
        variables={
            "step-pending": "#8A8F98",
            "step-running": "#B7791F",
            "step-cached": "#2E7D32",
            "step-executed": "#1F6FB2",
            "step-failed": "#C0392B",
            "step-skipped": "#9A9FA8",
            "step-pinned": "#7A4F9A",
        },
    ),
)


class ThemeFileError(ValueError):
    """A theme file that cannot become a Theme; the message names the file and the field."""


def step_variable_defaults(palette: Mapping[str, str]) -> dict[str, str]:
    """Status colours for a theme that does not set them, taken from its own palette."""
    muted = _blend(palette.get("background", "#000000"), palette.get("foreground", "#ffffff"), 0.5)
    return {
        "step-pending": muted,
        "step-running": palette.get("text-warning", palette.get("warning", "#e0a030")),
        "step-cached": palette.get("text-success", palette.get("success", "#40a040")),
        "step-executed": palette.get("text-primary", palette.get("primary", "#4080e0")),
        "step-failed": palette.get("text-error", palette.get("error", "#e04040")),
        "step-skipped": muted,
        "step-pinned": palette.get("text-secondary", palette.get("secondary", "#a060e0")),
    }


def _blend(background: str, foreground: str, factor: float) -> str:
    try:
        return Color.parse(background).blend(Color.parse(foreground), factor).hex
    except ColorParseError:
        return "#808080"


def theme_dirs() -> list[Path]:
    """Where theme files live: those bundled with flowyml-tui, then the user's own."""
    return [BUNDLED_THEMES_DIR, user_themes_dir()]


def load_theme_file(path: Path) -> Theme:
    """Read and validate one theme file; raise ThemeFileError saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ThemeFileError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ThemeFileError(
            f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ThemeFileError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ThemeFileError(f"{path}: expected a table of theme fields at the top level")
    return theme_from_dict(data, source=str(path))


def theme_from_dict(data: Mapping[str, Any], *, source: str) -> Theme:
    known = {f.name for f in dataclasses.fields(Theme)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeFileError(
            f"{source}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}"
        )
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ThemeFileError(f"{source}: 'name' must be a word like 'my-theme', got {name!r}")
    if "primary" not in data:
        raise ThemeFileError(f"{source}: 'primary' is required (a colour such as '#5FA8D3')")
    for key in COLOUR_FIELDS:
        if key in data:
            _check_colour(source, key, data[key])
    if "dark" in data and not isinstance(data["dark"], bool):
        raise ThemeFileError(f"{source}: 'dark' must be true or false, got {data['dark']!r}")
    for key in ("luminosity_spread", "text_alpha"):
        if key in data and not isinstance(data[key], (int, float)):
            raise ThemeFileError(f"{source}: {key!r} must be a number, got {data[key]!r}")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ThemeFileError(f"{source}: 'variables' must be a table of name = \"value\" strings")
    for key in STEP_VARIABLES:
        if key in variables:
            _check_colour(source, f"variables.{key}", variables[key])
    try:
        return Theme(**dict(data))
    except (TypeError, ValueError) as exc:
        raise ThemeFileError(f"{source}: {exc}") from exc


def _check_colour(source: str, key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ThemeFileError(f"{source}: {key!r} must be a colour string, got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ThemeFileError(f"{source}: {key!r} is not a colour: {value!r}") from exc


def load_theme_dirs(dirs: Iterable[Path]) -> tuple[list[Theme], list[str]]:
    """Every valid theme in these directories, and one line per file that was skipped."""
    themes: list[Theme] = []
    problems: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.suffix not in THEME_SUFFIXES or not path.is_file():
                continue
            try:
                themes.append(load_theme_file(path))
            except ThemeFileError as exc:
                problems.append(str(exc))
    return themes, problems


def available_themes(dirs: Iterable[Path] | None = None) -> tuple[dict[str, Theme], list[str]]:
    """Textual's themes, ours, then theme files (which may replace one): what --theme names."""
    themes = dict(TEXTUAL_THEMES)
    themes.update({theme.name: theme for theme in BUILTIN_THEMES})
    found, problems = load_theme_dirs(theme_dirs() if dirs is None else dirs)
    themes.update({theme.name: theme for theme in found})
    return themes, problems
