"""`R`: the runs recorded in the cache dir, read-only; mark two to compare them.

Reads only run records (`<cache_dir>/runs/*.json`): nothing here runs, pins or deletes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from flowyml_tui.engine.errors import FlowymlError
from flowyml_tui.engine.history.records import RunSummary, list_runs, load_run

from ..run_history import comparison, read_quietly, run_detail, summary_cells
from ..widgets.colours import status_style


def _shown_path(path: Path) -> str:
    """Relative to the working directory when inside it: shorter, and what the user typed."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


COLUMNS = ("", "Run", "Started", "Took", "Hit/ran/fail", "Status", "Context")
MARKS = ("A", "B")


class PastRunsScreen(ModalScreen[None]):
    """The pipeline's recorded runs, newest first; the lower pane shows the highlighted run,
    or the comparison of the two marked ones (A, the older, is the baseline)."""

    BINDINGS = [
        Binding("escape,q,R", "dismiss", "Close", id="runs.close"),
        Binding("space", "mark", "Mark to compare", id="runs.mark"),
    ]

    def __init__(self, cache_dir: str, pipeline: str | None) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self.pipeline = pipeline
        self.runs: list[tuple[int, RunSummary]] = []
        """(number, summary), newest first; #1 is the oldest record kept."""
        self.marked: list[str] = []
        """Run ids marked for comparison, in the order marked (at most two)."""
        self._records: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self._title(), id="runs-title")
            yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="runs-detail-scroll"):
                yield Static(Text("Reading run records…", style="italic"), id="runs-detail")
            yield Static(
                Text("↑/↓ choose a run · Space marks two to compare · Esc closes", style="italic"),
                id="runs-hint",
            )

    def _title(self) -> Text:
        which = f" of {self.pipeline}" if self.pipeline else ""
        where = _shown_path(Path(self.cache_dir) / "runs")
        return Text(f"Past runs{which} (read-only, from {where})", style="bold")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label or "mark")
        table.focus()
        self._load()

    @work(thread=True, exclusive=True, name="read run records")
    def _load(self) -> None:
        runs, problem = read_quietly(lambda: list_runs(self.cache_dir, limit=None))
        if self.pipeline:
            runs = [run for run in runs if run.pipeline == self.pipeline]
        self.app.call_from_thread(self._show_runs, runs, problem)

    def _show_runs(self, runs: list[RunSummary], problem: str | None) -> None:
        total = len(runs)
        self.runs = [(total - i, run) for i, run in enumerate(runs)]
        table = self.query_one(DataTable)
        table.clear()
        for number, run in self.runs:
            table.add_row(" ", *summary_cells(number, run), key=run.run_id)
        detail = self.query_one("#runs-detail", Static)
        if problem:
            detail.update(Text(f"Cannot read the run records: {problem}", style="bold red"))
        elif not self.runs:
            detail.update(Text("No runs recorded yet: a run appears here once it finishes."))
        else:
            table.move_cursor(row=0)
            self._show_detail()

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if len(self.marked) < 2:
            self._show_detail()

    @property
    def highlighted_run(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row][1].run_id

    def action_mark(self) -> None:
        run_id = self.highlighted_run
        if run_id is None:
            return
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked = [*self.marked, run_id][-2:]
        self._show_marks()
        self._show_detail()

    def _show_marks(self) -> None:
        table = self.query_one(DataTable)
        ordered = self._ordered_marks()
        for _, run in self.runs:
            mark = MARKS[ordered.index(run.run_id)] if run.run_id in ordered else ""
            cell = Text(mark or " ", style="bold reverse" if mark else "")
            table.update_cell(run.run_id, "mark", cell, update_width=True)

    def _ordered_marks(self) -> list[str]:
        """The marked runs, older first: the older is A, the baseline."""
        numbers = {run.run_id: number for number, run in self.runs}
        return sorted(self.marked, key=lambda run_id: numbers.get(run_id, 0))

    def _number(self, run_id: str) -> int:
        return next(number for number, run in self.runs if run.run_id == run_id)

    def _record(self, run_id: str) -> dict[str, Any]:
        if run_id not in self._records:
            self._records[run_id] = load_run(self.cache_dir, run_id)
        return self._records[run_id]

    def _show_detail(self) -> None:
        detail = self.query_one("#runs-detail", Static)

        def style_of(status: str) -> Style:
            return status_style(self.app, status)

        try:
            if len(self.marked) == 2:
                a, b = self._ordered_marks()
                detail.update(
                    comparison(
                        (self._number(a), self._record(a)),
                        (self._number(b), self._record(b)),
                        style_of,
                    )
                )
                return
            run_id = self.highlighted_run
            if run_id is not None:
                detail.update(run_detail(self._number(run_id), self._record(run_id), style_of))
        except (FlowymlError, OSError) as exc:
            detail.update(Text(f"Cannot read that run record: {exc}", style="bold red"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
