"""A step's whole output, read from its log file: search, filter and follow it, as Toolong does.

The Logs tab keeps only a tail in memory; the run's log file (`runs/<run_id>/logs/<step>.log`)
has every line, so this screen reads that and, while following, the lines appended since.
A last line printed without a newline (a prompt, a progress bar) shows once the file has been
quiet for `QUIET_TICKS` reads, instead of waiting for a newline that may never come.
"""

from __future__ import annotations

from pathlib import Path

from rich.highlighter import Highlighter
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Log, Static

from flowyml_tui.engine.describe.display import plural

FOLLOW_SECONDS = 0.25
"""How often a followed log file is read for new lines."""
QUIET_TICKS = 2
"""Reads without new text after which an unfinished last line is shown as it is."""
MATCH_STYLE = "bold reverse"


class MatchHighlighter(Highlighter):
    """Marks every occurrence of the search and filter texts, case-insensitively."""

    def __init__(self) -> None:
        self.words: list[str] = []

    def highlight(self, text: Text) -> None:
        if self.words:
            text.highlight_words(self.words, MATCH_STYLE, case_sensitive=False)


class FullLogScreen(Screen[None]):
    """All lines of one step's log; `/` searches, `n`/`N` move between matches, `&` keeps only
    the lines holding a text (as in `less`), `f` follows."""

    BINDINGS = [
        Binding("escape,q,L", "close", "Close", id="full_log.close"),
        Binding("slash", "search", "Search", key_display="/", id="full_log.search"),
        Binding("n", "next_match", "Next", id="full_log.next"),
        Binding("N", "previous_match", "Previous", id="full_log.previous"),
        Binding("ampersand", "filter", "Filter", key_display="&", id="full_log.filter"),
        Binding("f", "toggle_follow", "Follow", id="full_log.follow"),
        Binding("g", "top", "Top", show=False, id="full_log.top"),
        Binding("G", "bottom", "End", show=False, id="full_log.bottom"),
    ]

    DEFAULT_CSS = """
    FullLogScreen #full-log-title, FullLogScreen #full-log-status {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        background: $panel;
    }
    FullLogScreen #full-log { height: 1fr; }
    FullLogScreen #full-log-search { height: 1; border: none; padding: 0 1; }
    """

    def __init__(self, title: str, path: Path | None, fallback: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.path = path
        self.fallback = fallback
        self.following = True
        self.query_text = ""
        self.filter_text = ""
        self.match_line: int | None = None
        self.all_lines: list[str] = []
        """Every line read so far; `lines` are those shown (all, or those the filter keeps)."""
        self._offset = 0
        self._partial = ""
        self._quiet = 0
        self._asking = "search"
        self._highlighter = MatchHighlighter()

    def compose(self) -> ComposeResult:
        where = str(self.path) if self.path else "not on disk: the tail kept in memory"
        title = Text(f"{self.title_text} · {where}", no_wrap=True, overflow="ellipsis")
        yield Static(title, id="full-log-title")
        log = Log(id="full-log", highlight=True, auto_scroll=True)
        log.highlighter = self._highlighter
        yield log
        yield Input(id="full-log-search")
        yield Static("", id="full-log-status")

    def on_mount(self) -> None:
        self.query_one("#full-log-search", Input).display = False
        log = self.query_one(Log)
        if self.path is None:
            self._add(self.fallback.splitlines())
        else:
            self._read_more()
            self.set_interval(FOLLOW_SECONDS, self._follow_tick, name="follow log")
        log.focus()
        self._show_status()

    @property
    def lines(self) -> list[str]:
        return self.query_one(Log).lines

    def _read_more(self) -> None:
        """Append what the file gained since the last read (a step still running writes on)."""
        assert self.path is not None
        try:
            with self.path.open("r", encoding="utf-8", errors="replace") as handle:
                handle.seek(self._offset)
                text = handle.read()
                self._offset = handle.tell()
        except OSError as exc:
            self.query_one("#full-log-status", Static).update(f"cannot read the log: {exc}")
            return
        if not text:
            self._quiet += 1
            if self._partial and self._quiet >= QUIET_TICKS:  # no newline is coming soon
                self._add([self._partial])
                self._partial = ""
                self._show_status()
            return
        self._quiet = 0
        *complete, self._partial = (self._partial + text).split("\n")
        if complete:
            self._add(complete)
        self._show_status()

    def _add(self, lines: list[str]) -> None:
        self.all_lines.extend(lines)
        wanted = self.filter_text.lower()
        shown = [line for line in lines if wanted in line.lower()] if wanted else lines
        if shown:
            self.query_one(Log).write_lines(shown)

    def _follow_tick(self) -> None:
        if self.following:
            self._read_more()

    def _show_status(self) -> None:
        follow = "following the tail" if self.following else "not following (f follows)"
        if self.filter_text:
            counted = (
                f"{len(self.lines)} of {plural(len(self.all_lines), 'line')} "
                f"holding {self.filter_text!r}"
            )
        else:
            counted = plural(len(self.lines), "line")
        found = ""
        if self.query_text:
            found = (
                f" · {self.query_text!r} at line {self.match_line + 1}"
                if self.match_line is not None
                else f" · {self.query_text!r} not found"
            )
        keys = "/ search, n/N next/previous, & filter, Esc"
        status = f"{counted} · {follow}{found} · {keys}"
        self.query_one("#full-log-status", Static).update(status)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_search(self) -> None:
        self._ask("search", self.query_text, "search the log (Enter finds, Esc leaves)")

    def action_filter(self) -> None:
        self._ask("filter", self.filter_text, "show only lines holding (empty: all lines)")

    def _ask(self, what: str, value: str, placeholder: str) -> None:
        self._asking = what
        box = self.query_one("#full-log-search", Input)
        box.placeholder = placeholder
        box.display = True
        box.value = value
        box.focus()

    @on(Input.Submitted, "#full-log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.query_one(Log).focus()
        self.match_line = None
        if self._asking == "filter":
            self._apply_filter(event.value)
        else:
            self.query_text = event.value
            self._mark_matches()
            self._find(forward=True)

    def _apply_filter(self, text: str) -> None:
        """Show only the lines holding `text` (all lines when it is empty), still following."""
        self.filter_text = text
        log = self.query_one(Log)
        log.clear()
        lines, self.all_lines = self.all_lines, []
        self._add(lines)
        self._mark_matches()
        self._show_status()

    def _mark_matches(self) -> None:
        self._highlighter.words = [w for w in (self.query_text, self.filter_text) if w]
        log = self.query_one(Log)
        log.notify_style_update()  # drops the rendered lines, so marks follow the new words
        log.refresh()

    def key_escape(self) -> None:
        box = self.query_one("#full-log-search", Input)
        if box.has_focus:
            box.display = False
            self.query_one(Log).focus()

    def action_next_match(self) -> None:
        self._find(forward=True)

    def action_previous_match(self) -> None:
        self._find(forward=False)

    def _find(self, *, forward: bool) -> None:
        """Move to the next (or previous) line holding the search text; stops following."""
        if not self.query_text:
            return
        wanted = self.query_text.lower()
        lines = self.lines
        count = len(lines)
        if count == 0:
            return
        start = self.match_line if self.match_line is not None else (-1 if forward else count)
        step = 1 if forward else -1
        for offset in range(1, count + 1):
            index = (start + step * offset) % count
            if wanted in lines[index].lower():
                self.match_line = index
                self._set_following(False)
                log = self.query_one(Log)
                log.scroll_to(y=max(0, index - log.size.height // 2), animate=False)
                break
        else:
            self.match_line = None
        self._show_status()

    def action_toggle_follow(self) -> None:
        self._set_following(not self.following)
        if self.following:
            self._read_more()
            self.query_one(Log).scroll_end(animate=False)
        self._show_status()

    def _set_following(self, on: bool) -> None:
        self.following = on
        self.query_one(Log).auto_scroll = on

    def action_top(self) -> None:
        self._set_following(False)
        self.query_one(Log).scroll_home(animate=False)
        self._show_status()

    def action_bottom(self) -> None:
        self.query_one(Log).scroll_end(animate=False)
