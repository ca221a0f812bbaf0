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

    _shown: Problem | None = None

    def show(self, problem: Problem | None) -> None:
        if problem is None and self._shown is None:
            return  # hidden already: every run's start calls this, and an update costs a layout
        self._shown = problem
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
            # Most important first and nothing said twice: at 80x24 the panel has six lines.
            parts.append(Text(problem.message))
            advice = Text("→ " + problem.hint, style="bold")
            if problem.below:
                advice.append("  " + problem.below.split(";", 1)[0] + ".", style="italic")
            parts.append(advice)
            frames = problem.detail.splitlines()
            if frames and frames[0] == problem.location:
                frames = frames[1:]  # a SyntaxError's one frame is the head's file:line
            if frames:
                parts.append(Text("\n".join(frames), style="dim"))
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
