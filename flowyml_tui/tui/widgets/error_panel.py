"""Why the last attempt failed, shown above the last good run instead of replacing it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from ..state import Problem
from .colours import status_style
from .detail_pane import highlighted

DETAIL_LINES = 6

BOLD = Style(bold=True)


class ErrorPanel(Static):
    """Hidden while all is well; `show(problem)` reveals it with file:line and the traceback."""

    def show(self, problem: Problem | None) -> None:
        self.set_class(problem is not None, "-visible")
        if problem is None:
            self.update("")
            return
        self.update(self._problem_renderable(problem))

    def _problem_renderable(self, problem: Problem) -> RenderableType:
        style = status_style(self.app, "failed")
        head = Text.assemble(("✗ " + problem.title, style + BOLD))
        if problem.location:
            head.append(f"  {problem.location}", style="bold underline")
        parts: list[RenderableType] = [head]
        if problem.hint:  # a definition error: what is wrong, what to do, then the user's frames
            parts.append(Text(problem.message))
            parts.append(Text("→ " + problem.hint, style="bold"))
            if problem.detail:
                parts.append(Text(problem.detail, style="dim"))
            if problem.below:
                parts.append(Text(problem.below, style="italic"))
            return Group(*parts)
        tail = "\n".join(problem.detail.rstrip().splitlines()[-DETAIL_LINES:])
        if not tail.endswith(problem.message):
            parts.append(Text(problem.message))
        if tail:
            lexer = "pytb" if "Traceback" in problem.detail else "text"
            parts.append(highlighted(tail, lexer, dark=self.app.current_theme.dark))
        if problem.below:
            parts.append(Text(problem.below, style="italic"))
        return Group(*parts)
