"""Which step-table columns fit a width, and how wide Step and Why get: one pure function.

At 80 columns a long step name and the fixed columns left "Why" a few characters wide. The
reason is what a user reads the table for, so the less useful columns give way first: Cache
(the strategy, also in the step detail), then Time, then Saved are dropped, then Step is
narrowed (its cells end in `…`); only then does Why shrink, never below `REASON_MIN_WIDTH`.
Every cut cell ends in `…`, and the step detail always has the whole reason.
"""

from __future__ import annotations

from typing import NamedTuple

FIXED_WIDTHS = {"status": 10, "cache": 10, "time": 8, "saved": 8}
"""The columns whose content has a known width."""
DROP_ORDER = ("cache", "time", "saved")
"""The columns given up, in this order, for a Why of `REASON_WANTED` characters."""
REASON_WANTED = 20
"""Characters of Why worth dropping a column for."""
REASON_MIN_WIDTH = 8
"""Why never disappears: it shrinks to what is left and ends in an ellipsis."""
NAME_MIN_WIDTH = 12
"""Step names are narrowed to this at the least (with `…`) before Why shrinks."""


class TableFit(NamedTuple):
    hidden: frozenset[str]
    name_width: int
    reason_width: int


def fit_columns(available: int, name_width: int, padding: int = 1) -> TableFit:
    """The layout for `available` cells of content width, Step's content being `name_width`
    wide; each shown column also takes `padding` cells either side."""
    hidden: set[str] = set()

    def room(name: int) -> int:
        shown = sum(w + 2 * padding for k, w in FIXED_WIDTHS.items() if k not in hidden)
        return available - shown - (name + 2 * padding) - 2 * padding

    for column in DROP_ORDER:
        if room(name_width) >= REASON_WANTED:
            break
        hidden.add(column)
    short = room(name_width)
    if short < REASON_WANTED:
        name_width = max(min(NAME_MIN_WIDTH, name_width), name_width - (REASON_WANTED - short))
    return TableFit(frozenset(hidden), name_width, max(REASON_MIN_WIDTH, room(name_width)))
