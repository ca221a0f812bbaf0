"""The footer, which dims and lights its keys in place when only which are enabled changed.

Textual's Footer builds every key again whenever the screen's bindings are refreshed: ~40
`FooterKey` widgets removed, mounted and styled, 27-41 ms. The workbench refreshes bindings
when what they enable changes (the first row to select after a 10,000-step table is built,
a cache dir becoming known), and that rebuild was the largest part of the longest stall
after the table's first paint. When the keys shown, their order and labels are the same,
`KeyFooter` only flips the ones whose enabled state changed; otherwise it recomposes as
Footer does. Flipping a key needs `FooterKey._disabled` (what a click on it does), a private
attribute of the Textual release pinned in pyproject.toml; `internals_problems` says in words
what changed when Textual is upgraded, and tests/tui/test_key_footer.py runs it.
"""

from __future__ import annotations

from collections.abc import Hashable
from importlib.metadata import version

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

CHECKED_AGAINST = "8.2.8"
"""The Textual release these internals were read from (pinned in pyproject.toml)."""
DISABLED = "-disabled"
"""The class Footer gives a key it shows greyed out."""


def internals_problems(
    footer: type[Footer] = Footer, key: type[FooterKey] = FooterKey
) -> list[str]:
    """One line per private part that is missing or changed; empty when all is well."""
    problems = []
    if not callable(getattr(footer, "bindings_changed", None)):
        problems.append("Footer.bindings_changed (the footer's bindings callback) is gone")
    off, on = key("k", "k", "d", "a", disabled=True), key("k", "k", "d", "a")
    if (getattr(off, "_disabled", None), getattr(on, "_disabled", None)) != (True, False):
        problems.append("FooterKey._disabled no longer says whether a key is disabled")
    if not off.has_class(DISABLED) or on.has_class(DISABLED):
        problems.append(f"FooterKey no longer shows a disabled key by the {DISABLED} class")
    return [
        f"Textual {version('textual')}: {problem} (flowyml-tui's footer relies on it, as of "
        f"Textual {CHECKED_AGAINST}); update flowyml_tui/tui/widgets/key_footer.py for this "
        "release or pin Textual back"
        for problem in problems
    ]


class KeyFooter(Footer):
    """A Footer that rebuilds its keys only when the keys shown changed, not their state."""

    _composed: Hashable = None
    """`_shown_keys` when the keys were last built."""

    def compose(self) -> ComposeResult:
        self._composed = self._shown_keys(self.screen) if self._bindings_ready else None
        return super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        if (
            self._composed is not None
            and screen.app.app_focus
            and self.is_attached
            and screen is self.screen
            and self._shown_keys(screen) == self._composed
        ):
            self._relight(screen)
            return
        super().bindings_changed(screen)

    def _shown_keys(self, screen: Screen[object]) -> Hashable:
        """What decides which keys compose builds and how they read, but not which are enabled:
        the first binding of each action shown, in order, and the command palette's key."""
        display = self.app.get_key_display
        keys: dict[str, Hashable] = {}
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.show and binding.action not in keys:
                group = binding.group and (binding.group.description, binding.group.compact)
                label = (binding.key, display(binding), binding.description, group)
                keys[binding.action] = (label, active.tooltip)
        palette = self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE
        return tuple(keys.items()), palette, self.app.COMMAND_PALETTE_BINDING

    def _relight(self, screen: Screen[object]) -> None:
        """Grey out or light each key as the bindings say now, as a fresh compose would."""
        bindings = screen.active_bindings
        enabled: dict[str, bool] = {}
        for active in bindings.values():
            if active.binding.show:
                enabled.setdefault(active.binding.action, active.enabled)
        palette = bindings.get(self.app.COMMAND_PALETTE_BINDING)
        for key in self.query(FooterKey):
            if key.has_class("-command-palette"):
                on = palette.enabled if palette is not None else True
            else:
                on = enabled.get(key.action, True)
            if key._disabled == on:
                key._disabled = not on
                key.set_class(not on, DISABLED)
