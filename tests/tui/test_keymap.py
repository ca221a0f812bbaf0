"""Users remap keys in keymap.toml by binding id; a bad file is one notification."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowyml_tui.config import keymap_path
from flowyml_tui.tui.keymap import load_keymap

from .helpers import drive, wait_for_run, wait_until

pytestmark = pytest.mark.timeout(30)


def test_a_remapped_key_does_what_the_binding_did(write_pipeline, new_app, tmp_path) -> None:
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('rerun = "f5"\n')
    app = new_app(write_pipeline(), keymap_file=keymap)

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        await pilot.press("f5")
        await wait_for_run(pilot, app, 2)
        await pilot.press("r")  # no longer bound: the keymap replaced it
        await pilot.pause(0.3)
        assert app.runs_started == 2

    drive(app, scenario)


def test_a_bad_keymap_is_one_notification_and_the_good_lines_still_apply(
    write_pipeline, new_app, tmp_path
) -> None:
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('rerun = "f5"\nfly = "x"\nquit = 3\n')
    app = new_app(write_pipeline(), keymap_file=keymap, autorun=False)

    async def scenario(pilot) -> None:
        await wait_until(pilot, lambda: app._notifications, what="a notification")
        (note,) = app._notifications
        assert "unknown binding id 'fly'" in note.message
        assert "quit must be a key string" in note.message
        await pilot.press("f5")
        await wait_for_run(pilot, app, 1)

    drive(app, scenario)


def test_broken_toml_remaps_nothing_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "keymap.toml"
    path.write_text("rerun = \n")
    keymap, problems = load_keymap(path, ["rerun"])
    assert keymap == {}
    assert "not valid TOML" in problems[0]


def test_the_keymap_lives_in_the_xdg_config_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert keymap_path() == tmp_path / "flowyml-tui" / "keymap.toml"


def test_the_command_palette_names_the_key_the_keymap_gave(
    write_pipeline, new_app, tmp_path
) -> None:
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('rerun = "f5"\n')
    app = new_app(write_pipeline(), keymap_file=keymap, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert commands["Re-run pipeline"].help.endswith("(f5)")
        assert commands["Pin / unpin step"].help.endswith("(p)")  # not remapped: its own key
        app.set_keymap({"rerun": "f6", "pin": "ctrl+y"})
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert commands["Re-run pipeline"].help.endswith("(f6)")
        assert commands["Pin / unpin step"].help.endswith("(^y)")
        await commands["Re-run pipeline"].callback()
        await wait_for_run(pilot, app, 1)

    drive(app, scenario)
