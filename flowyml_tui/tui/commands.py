"""Command palette entries, made from the app's bindings and the keys they have right now.

Each entry names its key, so the key must come from the live bindings: a key written into the
help text goes stale as soon as a user remaps it in keymap.toml.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

PALETTE: dict[str, tuple[str, str]] = {
    "rerun": ("Re-run pipeline", "Run the pipeline now"),
    "stop": ("Stop run", "Stop the current run now; what finished stays cached"),
    "invalidate": ("Invalidate step", "Force the selected step to run"),
    "invalidate_downstream": (
        "Invalidate step and downstream",
        "The selected step and all that depends on it",
    ),
    "pin": ("Pin / unpin step", "Keep the selected step's cached result"),
    "context": ("Edit run context", "Set the KEY=VALUE values runs get, and re-run"),
    "clear_cache": ("Clear cache", "Delete every cached result, after confirming"),
    "clear_calls": (
        "Clear step's call caches",
        "Empty the CachePrimitive caches the selected step used",
    ),
    "watch": ("Pause / resume watching", "Stop or restart re-runs on save; a run goes on"),
    "dag": ("Toggle DAG view", "Draw the pipeline graph"),
    "warnings": ("Show warnings", "Every warning of this session, with its step"),
    "past_runs": ("Past runs", "The recorded runs, read-only; mark two to compare them"),
    "savings": ("Savings", "What the caches saved, per step and per recent run"),
    "export": ("Export report", "Write a report of the last run"),
    "approve": ("Approve step", "Approve the step that waits for approval, and run again"),
    "help": ("Keys", "Show every key and its binding id"),
}
"""Binding id -> (title, help) for the bindings the palette offers. Quitting and the theme
picker are left out: Textual's own system commands already offer them."""


def live_keys(screen: Screen[object]) -> dict[str, list[str]]:
    """Binding id -> the keys that trigger it on `screen` now (after the keymap), as displayed."""
    keys: dict[str, list[str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.id:
            keys.setdefault(binding.id, []).append(screen.app.get_key_display(binding))
    return keys


def palette_commands(
    app: App[object], bindings: Iterable[BindingType], screen: Screen[object]
) -> Iterator[SystemCommand]:
    """One palette entry per binding in PALETTE, its help ending in its current key(s)."""
    keys = live_keys(screen)
    for binding in bindings:
        if not isinstance(binding, Binding) or binding.id not in PALETTE:
            continue
        title, help_text = PALETTE[binding.id]
        shown = ", ".join(dict.fromkeys(keys.get(binding.id, ())))
        yield SystemCommand(
            title,
            f"{help_text} ({shown})" if shown else help_text,
            partial(app.run_action, binding.action),
        )
