"""`/` narrows the step table to the steps whose name or status matches, as a pager's `/`."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.widgets import Input

from flowyml_tui.engine.events import StepStatus

from ..state import StepRow

STATUSES = frozenset(str(status) for status in StepStatus)


def matching(rows: Iterable[StepRow], text: str) -> list[StepRow]:
    """Rows whose status is `text` (`failed`), or whose name contains it, case-insensitively.

    A status word matches the status only, so `/cached` does not also bring `cache_warmup`.
    """
    wanted = text.strip().lower()
    if not wanted:
        return list(rows)
    if wanted in STATUSES:
        return [row for row in rows if row.status == wanted]
    return [row for row in rows if wanted in row.name.lower()]


class StepFilter(Input):
    """The filter line above the table: live as you type; Enter keeps it, Esc clears it."""

    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", id="filter.clear")]

    def __init__(self, *, id: str | None = None) -> None:
        hint = "filter steps: a name, or a status (failed, cached, ...)"
        super().__init__(placeholder=hint, id=id)

    def action_clear_filter(self) -> None:
        self.value = ""
        self.remove_class("-visible")
        self.app.query_one("#steps").focus()
