"""Every warning of the session in one list, so a toast can stay short and show only once."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..state import WarningEntry


class WarningsScreen(ModalScreen[None]):
    """Step, warning and the runs it was seen in; newest first."""

    BINDINGS = [Binding("escape,q,W", "dismiss", "Close", id="warnings.close")]

    def __init__(self, entries: list[WarningEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(Text(f"Warnings ({len(self.entries)})", style="bold"))
            yield Static(self._table(), id="warnings-list")
            yield Static(Text("Esc closes this.", style="italic"))

    def _table(self) -> Table | Text:
        if not self.entries:
            return Text("No warnings in this session.")
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("Step", no_wrap=True)
        table.add_column("Warning", ratio=1)
        table.add_column("Runs", no_wrap=True, style="dim")
        ordered = sorted(self.entries, key=lambda e: (-e.last_run, e.step or ""))
        for entry in ordered:
            runs = (
                f"#{entry.first_run}"
                if entry.first_run == entry.last_run
                else f"#{entry.first_run}-#{entry.last_run}"
            )
            if entry.count > 1:
                runs += f" ({entry.count} times)"
            table.add_row(Text(entry.step or "(run)", style="bold"), entry.message, runs)
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
