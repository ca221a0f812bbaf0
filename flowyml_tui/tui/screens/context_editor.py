"""A small editor of the run context: one KEY=VALUE per line, parsed as `-c KEY=VALUE` is."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from flowyml_tui.engine.errors import FlowymlError
from flowyml_tui.runner.context_args import parse_context


def context_lines(context: Mapping[str, Any]) -> str:
    """The values as the user would type them after -c: a string shows bare when it reads back."""
    lines = []
    for key, value in context.items():
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                lines.append(f"{key}={value}")
                continue
        lines.append(f"{key}={json.dumps(value)}")
    return "\n".join(lines)


def parse_lines(text: str) -> dict[str, Any]:
    """Blank lines and `#` comments are skipped; a bad line raises FlowymlError naming it."""
    pairs = [line.strip() for line in text.splitlines()]
    return parse_context([p for p in pairs if p and not p.startswith("#")])


class ContextScreen(ModalScreen[dict[str, Any] | None]):
    """Dismisses with the new context on apply (ctrl+s), None on escape; a bad line stays open."""

    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply and re-run", id="context.apply"),
        Binding("escape", "cancel", "Cancel", id="context.cancel"),
    ]

    def __init__(self, context: Mapping[str, Any], keys: Sequence[str] | None = None) -> None:
        super().__init__()
        self.context = dict(context)
        self.keys = None if keys is None else tuple(keys)
        """What the steps take (`context_keys.context_key_lines`), shown above the editor;
        None before the pipeline's steps are known (no run yet)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Run context: one KEY=VALUE per line (VALUE as JSON when it parses)")
            if self.keys is None:
                taken = "The keys the steps take are listed once the pipeline has run."
            elif self.keys:
                taken = "The steps take:\n" + "\n".join(self.keys)
            else:
                taken = "No step of this pipeline takes a value from the run context."
            yield Static(taken, id="context-keys", markup=False)
            yield TextArea(context_lines(self.context), id="context-text")
            yield Static("", id="context-error")
            with Horizontal(id="buttons"):
                yield Button("Apply and re-run (ctrl+s)", variant="primary", id="apply")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        else:
            self.dismiss(None)

    def action_apply(self) -> None:
        try:
            context = parse_lines(self.query_one(TextArea).text)
        except FlowymlError as exc:
            message = str(exc).replace("--context takes", "each line takes")
            self.query_one("#context-error", Static).update(message)
            return
        self.dismiss(context)

    def action_cancel(self) -> None:
        self.dismiss(None)
