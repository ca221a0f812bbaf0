"""The footer greys out and lights its keys in place when only which are enabled changed."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from flowyml_tui.tui.app import FlowymlApp
from flowyml_tui.tui.widgets.key_footer import CHECKED_AGAINST, KeyFooter, internals_problems

from .helpers import drive, wait_until
from .test_big_runs import chain, post_a_cached_run


def test_a_step_selected_lights_the_keys_it_enables_without_building_the_footer_again(
    write_pipeline: Callable[..., Path], new_app: Callable[..., FlowymlApp]
) -> None:
    """Building ~40 keys again was 27-41 ms, the longest part of a stall after a big table's
    first paint; selecting the first step only enables Invalidate, Pin and the like."""
    path = write_pipeline()
    app = new_app(path, autorun=False)

    async def scenario(pilot) -> None:
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        before = {key.action: key for key in footer.query(FooterKey)}
        assert before["invalidate"].has_class("-disabled")
        await post_a_cached_run(app, pilot, chain(3, str(path)))
        await wait_until(pilot, lambda: app.selected_step is not None, what="a selected step")
        await pilot.pause()
        after = {key.action: key for key in footer.query(FooterKey)}
        assert after == before  # the very same widgets, in the same places
        for action in ("invalidate", "toggle_pin", "invalidate_downstream"):
            assert not after[action].has_class("-disabled")
            assert not after[action]._disabled  # a click on it now presses the key

    drive(app, scenario)


def test_the_footer_internals_it_flips_are_where_it_expects() -> None:
    problems = internals_problems()
    assert not problems, "\n".join(problems)


def test_the_check_names_the_textual_version_and_what_moved() -> None:
    class KeyWithoutState(FooterKey):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            del self._disabled

    (moved,) = internals_problems(Footer, KeyWithoutState)
    assert moved.startswith(f"Textual {version('textual')}: FooterKey._disabled no longer")
    assert f"as of Textual {CHECKED_AGAINST}" in moved
