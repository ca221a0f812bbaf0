"""The Savings view's chart: what each recent run saved, as bars drawn in the terminal."""

from __future__ import annotations

from rich.text import Text

from flowyml_tui.engine.describe.display import format_duration
from flowyml_tui.engine.history.savings import Savings

_EIGHTHS = " ▏▎▍▌▋▊▉"


def money(amount: float, currency: str | None) -> str:
    """Cents, or two figures for amounts below a cent (a token-priced call)."""
    shown = f"{amount:,.2f}" if amount == 0 or abs(amount) >= 0.01 else f"{amount:.2g}"
    return f"{shown} {currency}" if currency else shown


def bar(fraction: float, width: int) -> str:
    """A bar `fraction` of `width` cells long, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def savings_bars(
    runs: list[tuple[int, Savings]], priced: bool, currency: str | None, width: int = 40
) -> Text:
    """One row per run (`#number`, oldest first): a bar of what it saved, and the amount
    (money when priced, else time)."""
    if not runs:
        return Text("No runs recorded yet.", style="italic")
    values = [line.cost_saved if priced else line.time_saved_s for _, line in runs]
    biggest = max(values) or 1.0
    label_width = max(len(f"#{number}") for number, _ in runs)
    text = Text()
    for (number, _), value in zip(runs, values, strict=True):
        shown = money(value, currency) if priced else format_duration(value)
        text.append(f"#{number}".rjust(label_width) + " ", style="bold")
        text.append(bar(value / biggest, width).ljust(width), style="green")
        text.append(f" {shown}\n")
    text.rstrip()
    return text
