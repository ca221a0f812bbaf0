"""Themes are data: the bundled files load, a bad file is one notification, --theme picks one."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml_tui.tui.themes import (
    BUNDLED_THEMES_DIR,
    STEP_VARIABLES,
    ThemeFileError,
    available_themes,
    load_theme_file,
    theme_dirs,
)

from .helpers import drive, wait_until

pytestmark = pytest.mark.timeout(30)


def test_the_bundled_theme_files_are_valid_and_set_every_status_colour() -> None:
    files = sorted(BUNDLED_THEMES_DIR.glob("*.toml"))
    assert len(files) >= 2
    for path in files:
        theme = load_theme_file(path)
        assert set(STEP_VARIABLES) <= set(theme.variables), path


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('name = "x"\nprimary = "not-a-colour"\n', "'primary' is not a colour"),
        ('name = "x"\n', "'primary' is required"),
        ('name = "x"\nprimary = "#123456"\nshiny = true\n', "unknown field(s) shiny"),
        ('name = "x"\nprimary = "#123456"\n[variables]\nstep-failed = "nope"\n', "step-failed"),
        ("name = [", "not valid TOML"),
    ],
)
def test_a_bad_theme_file_says_what_is_wrong(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ThemeFileError, match=None) as caught:
        load_theme_file(path)
    assert complaint in str(caught.value) and str(path) in str(caught.value)


def test_user_themes_come_from_xdg_config_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    user_dir = tmp_path / "flowyml-tui" / "themes"
    user_dir.mkdir(parents=True)
    (user_dir / "mine.json").write_text('{"name": "mine", "primary": "#ff8800"}')
    assert user_dir in theme_dirs()
    themes, problems = available_themes()
    assert "mine" in themes and not problems


def test_a_bad_theme_file_is_one_notification_and_the_app_still_starts(
    write_pipeline, new_app, tmp_path: Path
) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "good.toml").write_text('name = "good"\nprimary = "#336699"\n')
    (themes / "broken.toml").write_text('name = "broken"\nprimary = 12\n')
    (themes / "worse.json").write_text("{")
    (themes / "latin1.toml").write_bytes('name = "café"\nprimary = "#336699"\n'.encode("latin-1"))
    app = new_app(write_pipeline(), autorun=False, themes_from=[themes], theme="good")

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: app._notifications, what="a notification")
        notes = list(app._notifications)
        assert len(notes) == 1
        assert "broken.toml" in notes[0].message and "worse.json" in notes[0].message
        assert "latin1.toml: not UTF-8" in notes[0].message
        assert app.theme == "good"
        assert "step-cached" in app.theme_variables

    drive(app, scenario)


def test_an_unknown_theme_falls_back_with_a_notification(write_pipeline, new_app) -> None:
    app = new_app(write_pipeline(), autorun=False, themes_from=[], theme="no-such-theme")

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: app._notifications, what="a notification")
        assert app.theme == "flowyml"

    drive(app, scenario)


@pytest.mark.parametrize("theme", ["flowyml", "flowyml-light", "textual-dark", "nord"])
def test_every_status_has_a_colour_in_every_theme(write_pipeline, new_app, theme: str) -> None:
    app = new_app(write_pipeline(), autorun=False, themes_from=[], theme=theme)

    async def scenario(pilot) -> None:
        await pilot.pause()
        for name in STEP_VARIABLES:
            assert app.theme_variables[name].startswith("#"), (theme, name)

    drive(app, scenario)


def test_the_theme_chosen_is_remembered_for_the_next_session(write_pipeline, new_app) -> None:
    from flowyml_tui.config import settings_path

    path = write_pipeline()
    first = new_app(path, autorun=False)

    async def choose(pilot) -> None:
        first.theme = "flowyml-light"  # what picking it after `t` does
        await pilot.pause()

    drive(first, choose)
    assert 'theme = "flowyml-light"' in settings_path().read_text()
    second = new_app(path, autorun=False)

    async def reopened(pilot) -> None:
        assert second.theme == "flowyml-light"

    drive(second, reopened)
    explicit = new_app(path, autorun=False, theme="flowyml")  # --theme still wins

    async def asked(pilot) -> None:
        assert explicit.theme == "flowyml"

    drive(explicit, asked)
