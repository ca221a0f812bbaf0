"""Every key, what it does, and how to remap it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "flowyml-tui re-runs the pipeline each time you save. Steps whose code and inputs did not "
    "change come back from the cache; the Why tab says why a step ran, with the diff.\n\n"
    "Stop a run with s: the worker is killed at once and what finished stays cached. Pausing "
    "(w) only stops re-runs on save; a run in progress goes on. C edits the run context "
    "(KEY=VALUE per line, as -c KEY=VALUE on the command line) and re-runs; the values show "
    "in the status line. A warning is a toast the first time; W lists them all.\n\n"
    "The Logs tab shows a step's last lines; L opens its whole log, where / searches, n/N "
    "move between matches, & keeps only the lines holding a text and f follows the tail.\n\n"
    "R lists the runs recorded in the cache dir (when, how long, hits, executed, failed, "
    "context); Space marks two and the pane below compares them, step by step and context "
    "value by value, as `flowyml-tui report --compare` does. A running step's Saved cell "
    "estimates what is left (~9s left) from its recent executed durations.\n\n"
    "Moving around: Tab and Shift+Tab move between the step table and the detail tabs; in the "
    "table the arrows or j/k choose a step; in the DAG view (d) up/down move along the rows "
    "and left/right follow an edge upstream or downstream; 1-4 open the Why, Logs, Output "
    "and History tabs; "
    "/ filters the table by name or by status (/failed), Esc clears the filter. y copies the "
    "selected step's traceback or diff (OSC 52, works over SSH); o opens its source in $EDITOR."
)


class HelpScreen(ModalScreen[None]):
    """Lists the app's bindings (with their ids, for set_keymap) and closes on any of its keys."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("Key", no_wrap=True)
        table.add_column("Does")
        table.add_column("Binding id", style="dim", no_wrap=True)
        for key, description, binding_id in self.rows:
            table.add_row(Text(key, style="bold"), description, binding_id)
        with VerticalScroll(id="dialog"):
            yield Static(Text(INTRO), id="help-intro")
            yield Static(table, id="help-keys")
            yield Static(
                Text("Esc or ? closes this. Ctrl+P opens the command palette.", style="italic"),
                id="help-outro",
            )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
