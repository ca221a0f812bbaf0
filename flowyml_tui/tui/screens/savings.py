"""`$`: what the caches saved, per step and per recent run, from the run records (read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from flowyml_tui.engine.describe.display import format_duration
from flowyml_tui.engine.history.records import load_runs
from flowyml_tui.engine.history.savings_history import History, chosen, history

from ..run_history import read_quietly
from ..savings_chart import money, savings_bars

RECENT_RUNS = 20
"""How many of the newest runs the chart draws."""


class SavingsScreen(ModalScreen[None]):
    """The pipeline's savings ledger over its recorded runs: a table per step, then a chart of
    what each recent run saved."""

    BINDINGS = [Binding("escape,q,dollar_sign", "dismiss", "Close", id="savings.close")]

    def __init__(self, cache_dir: str, pipeline: str | None) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self.pipeline = pipeline
        self.ledger: History | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Savings", style="bold"), id="savings-title")
            yield DataTable(id="savings-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="savings-chart-scroll"):
                yield Static(Text("Reading run records…", style="italic"), id="savings-chart")
            yield Static(Text("Esc closes", style="italic"), id="savings-hint")

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self._load()

    @work(thread=True, exclusive=True, name="read run records")
    def _load(self) -> None:
        records, problem = read_quietly(lambda: load_runs(Path(self.cache_dir)))
        picked = chosen(records, pipeline=self.pipeline, now=0.0)
        currencies = {r.get("currency") for r in picked if r.get("currency")}
        if len(currencies) > 1:  # the newest currency's runs: two cannot be added up
            newest = picked[0].get("currency") if picked else None
            picked = [r for r in picked if r.get("currency") in (newest, None)]
        self.app.call_from_thread(self._show, history(picked), problem)

    def _show(self, ledger: History, problem: str | None) -> None:
        self.ledger = ledger
        which = f" of {self.pipeline}" if self.pipeline else ""
        runs = "run" if ledger.runs == 1 else "runs"
        self.query_one("#savings-title", Static).update(
            Text(f"Savings{which} over {ledger.runs} {runs} (read-only)", style="bold")
        )
        chart = self.query_one("#savings-chart", Static)
        if problem:
            chart.update(Text(f"Cannot read the run records: {problem}", style="bold red"))
            return
        table = self.query_one(DataTable)
        table.clear(columns=True)
        columns = ["Step", "Time saved", "Calls saved"]
        if ledger.priced:
            columns += ["Cost saved", "Cost spent"]
        for label in columns:
            table.add_column(label, key=label)
        for line in [*ledger.steps, None]:
            name, values = ("total", ledger.total) if line is None else (line.step, line.savings)
            cells: list[Any] = [
                Text(name, style="bold" if line is None else ""),
                Text(format_duration(values.time_saved_s), justify="right"),
                Text(str(values.calls_saved), justify="right"),
            ]
            if ledger.priced:
                cells += [
                    Text(money(values.cost_saved, ledger.currency), justify="right"),
                    Text(money(values.cost_spent, ledger.currency), justify="right"),
                ]
            table.add_row(*cells)
        numbered = [(n + 1, line) for n, (_, _, line) in enumerate(ledger.per_run)]
        recent = numbered[-RECENT_RUNS:]
        what = "money" if ledger.priced else "time (no rate set)"
        heading = Text(f"Saved per run, newest last, in {what}\n", style="bold")
        shown = heading + savings_bars(recent, ledger.priced, ledger.currency)
        flagged = [line.cache_flag for line in ledger.steps if line.cache_flag]
        if flagged:  # measured: these steps' caches cost more than recomputing them
            shown += Text("\n\nCaches that cost more than recomputing:\n", style="bold")
            shown += Text("\n".join(f"⚠ {flag}" for flag in flagged))
        chart.update(shown)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
