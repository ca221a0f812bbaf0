"""The workbench: re-runs the pipeline on every save and shows why each step ran.

This file wires things together. Workers talk to the runner and the store and only post
messages; widgets change in the handlers below, and catch up with the model once per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Input, Select, TabbedContent
from textual.worker import Worker, WorkerState

from flowyml_tui.config import keymap_path, settings_path
from flowyml_tui.engine.collector import collection_paused
from flowyml_tui.engine.events import (
    RunFinished,
    RunStarted,
    RunWarning,
    StepLog,
    StepStarted,
    StepStatus,
)
from flowyml_tui.runner.protocol import PipelinesFound

if TYPE_CHECKING:
    from flowyml_tui.runner.session import RunSession

from .commands import palette_commands
from .heap import build_frozen, built_whole, settle
from .keymap import load_keymap
from .messages import (
    EstimatesFound,
    FilesChanged,
    OriginLogsFound,
    ReportExported,
    RunnerUpdate,
    StoreChanged,
)
from .paint_now import paint_now
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .settings import load_settings, save_setting
from .state import OriginLog, RunModel, StepLogs, describe_runner
from .themes import DEFAULT_THEME, available_themes, step_variable_defaults, theme_dirs
from .widgets.dag_view import DagView
from .widgets.detail_pane import DetailPane
from .widgets.error_panel import ErrorPanel
from .widgets.key_footer import KeyFooter
from .widgets.pipeline_selector import PipelineSelector, parse_target, target_value
from .widgets.status_line import StatusLine
from .widgets.step_filter import StepFilter, matching
from .widgets.step_table import StepTable

FRAME_SECONDS = 1 / 30
"""Widgets catch up with the model at most this often, however fast events arrive."""
ROWS_PER_FRAME = 500
"""A frame updates at most this many rows, so a run of a thousand steps never stalls the UI."""
FRAME_BUDGET_SECONDS = 0.012
"""...and stops writing rows after this long: 500 rows take 20 ms on a quiet machine and three
times that on a loaded one; the rows on screen are written first."""
EVENTS_PER_TURN = 256
"""The run's events one message handler folds in before letting keys and frames through: a
cached run of 10,000 steps arrives at once, and folding it in whole stalled the UI ~1 s."""
SUMMARY_SECONDS = 0.1
"""While a run goes, the status line's counts are redrawn at most this often: counting
10,000 rows takes ~13 ms, and nobody reads a counter faster."""
TICK_SECONDS = 0.2
RUNNING = StepStatus.RUNNING
"""How often the elapsed time of running steps moves."""
MAX_WARNING_TOASTS = 3
PAUSE_TIP = "Stop re-running on save; a run in progress goes on (s stops it)"
TOAST_CHARS = 160
"""A toast says what and where; the whole text is in the warnings list."""


@dataclass(frozen=True)
class Target:
    """What runs: a file and, when it holds several, which pipeline."""

    file: Path
    pipeline: str | None = None


class FlowymlApp(App[int]):
    """Textual app over a RunSession (runs), the watcher (saves) and the CacheStore (keys)."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "flowyml-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        # The footer shows them in this order and drops the tail first at 80 columns: the keys
        # a user needs first (DESIGN: q, r, s, i, p, ?) lead.
        Binding("q", "quit", "Quit", id="quit"),
        Binding("r", "rerun", "Re-run", id="rerun"),
        Binding("s", "stop", "Stop", id="stop"),
        Binding("i", "invalidate", "Invalidate", id="invalidate"),
        Binding("p", "toggle_pin", "Pin", id="pin"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("w", "toggle_watch", "Pause saves", tooltip=PAUSE_TIP, id="watch"),
        Binding("C", "edit_context", "Context", id="context"),
        Binding("W", "warnings", "Warnings", id="warnings"),
        Binding("I", "invalidate_downstream", "Invalidate+down", id="invalidate_downstream"),
        Binding("c", "clear_cache", "Clear cache", id="clear_cache"),
        Binding("x", "clear_calls", "Clear calls", id="clear_calls"),
        Binding("d", "toggle_dag", "DAG", id="dag"),
        Binding("L", "full_log", "Full log", id="full_log"),
        Binding("e", "export", "Export", id="export"),
        Binding("t", "change_theme", "Theme", id="theme"),
        Binding("y", "copy_detail", "Copy", id="copy"),
        Binding("o", "open_source", "Open in $EDITOR", id="open_source"),
        Binding("slash", "filter_steps", "Filter", key_display="/", id="filter"),
        Binding("R", "past_runs", "Past runs", id="past_runs"),
        Binding("dollar_sign", "savings", "Savings", key_display="$", show=False, id="savings"),
        Binding("A", "approve", "Approve", id="approve"),
        Binding("1", "show_tab('tab-why')", "Why tab", show=False, id="tab.why"),
        Binding("2", "show_tab('tab-logs')", "Logs tab", show=False, id="tab.logs"),
        Binding("3", "show_tab('tab-output')", "Output tab", show=False, id="tab.output"),
        Binding("4", "show_tab('tab-history')", "History tab", show=False, id="tab.history"),
    ]

    def __init__(
        self,
        files: Sequence[Path],
        *,
        pipeline: str | None = None,
        cache_dir: str | None = None,
        theme: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        watch: bool = True,
        autorun: bool = True,
        themes_from: Iterable[Path] | None = None,
        keymap_file: Path | None = None,
        context: Mapping[str, Any] | None = None,
        runner_args: Sequence[str] = (),
        warm_imports: bool = True,
    ) -> None:
        self._theme_dirs = list(themes_from) if themes_from is not None else theme_dirs()
        self._keymap_file = keymap_file if keymap_file is not None else keymap_path()
        self._settings_file = settings_path()
        super().__init__()
        if not files:
            raise ValueError("FlowymlApp needs at least one pipeline file")
        self.files = [Path(f) for f in files]
        self.target = Target(self.files[0], pipeline)
        self.cache_dir = cache_dir
        self.runner_args = tuple(runner_args)
        """Where each run's steps run (`--jobs N`, `--dask ADDRESS`), for its worker."""
        self.warm_imports = warm_imports
        """The spare worker imports the last run's libraries while it waits (`--no-warm`)."""
        self.context: dict[str, Any] = dict(context or {})
        self.approved: set[str] = set()
        """Approval steps approved this session (`A`): every later run has them approved."""
        """Run context values (`-c KEY=VALUE`, `C`), passed to every run."""
        self.requested_theme = theme
        self.clock = clock
        self.watching = watch
        self.autorun = autorun
        self.paused = False
        self.model = RunModel(describe_runner(self.runner_args))
        self.pipelines: dict[Path, tuple[str, ...]] = {}
        self.local_modules: tuple[Path, ...] = ()
        self.runs_started = 0
        self._pending_changes: set[Path] = set()
        self._token = 0
        self._reactions: dict[type, Callable[[Any, int], None]] = {
            PipelinesFound: lambda found, token: self._pipelines_found(found),
            RunStarted: self._run_started,
            RunFinished: self._run_finished,
            RunWarning: lambda warning, token: self._warning_toast(warning),
        }
        """What the app does on a worker message, beside the model folding it in."""
        self._run_worker_obj: Worker[None] | None = None
        self._session: RunSession | None = None
        self._session_target: Target | None = None
        self._watch_stop = asyncio.Event()
        self._warning_toasts = 0
        self._details_dirty = True
        self._drawn_at_once = float("-inf")
        """When a step's start was last drawn outside the frame tick (`_draw_at_once`)."""
        self._shut_down = False
        self._binding_state: tuple[bool, bool] | None = None
        self._pending_logs: list[StepLog] = []
        self.step_filter = ""
        """What `/` narrows the step table to: a name fragment or a status."""
        self._pending_logs_token = 0
        self._outgoing: list[object] = []
        """Worker messages read in one go, posted as one `RunnerUpdate` once the worker waits."""
        self._outgoing_token = 0
        self._backlog: deque[tuple[int, object]] = deque()
        """Worker messages received and not yet folded in, in order, with their run's token."""
        self._summary_shown_at = 0.0

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield PipelineSelector(id="selector")
        yield ErrorPanel(id="error")
        with Vertical(id="main"):
            yield StepFilter(id="step-filter")
            with ContentSwitcher(initial="steps", id="left"):
                yield StepTable(id="steps")
                yield DagView(id="dag")
            yield DetailPane(id="detail")
        yield KeyFooter()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return step_variable_defaults(self.current_theme.to_color_system().generate())

    def on_mount(self) -> None:
        self._install_themes()
        self._install_keymap()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._refresh_selector()
        self.set_interval(FRAME_SECONDS, self._frame, name="frame")
        self.set_interval(TICK_SECONDS, self.tick_elapsed, name="elapsed")
        self.query_one(StepTable).focus()
        if self.autorun:
            self.start_run("start")
        if self.watching:
            self._follow_saves()
        self.catch_up()

    def _install_themes(self) -> None:
        themes, problems = available_themes(self._theme_dirs)
        for theme in themes.values():
            self.register_theme(theme)
        if problems:
            self.notify(
                "\n".join(problems) + "\nOther themes loaded normally.",
                title=f"{len(problems)} theme file(s) skipped",
                severity="warning",
                timeout=12,
            )
        remembered = load_settings(self._settings_file).get("theme")
        wanted = self.requested_theme or remembered or DEFAULT_THEME
        if wanted == remembered and wanted not in self.available_themes:
            wanted = DEFAULT_THEME  # a theme file since removed: quietly back to the default
        if wanted not in self.available_themes:
            self.notify(f"Unknown theme {wanted!r}; using {DEFAULT_THEME}.", severity="warning")
            wanted = DEFAULT_THEME
        self.theme = wanted

    def _theme_changed(self, theme: Any) -> None:
        """Chosen with `t` (or the palette): restyle, and remember it for the next session."""
        self._restyle()
        problem = save_setting(self._settings_file, "theme", theme.name)
        if problem:
            self.notify(problem, severity="warning")

    def _install_keymap(self) -> None:
        ids = [binding.id for binding in self.BINDINGS if isinstance(binding, Binding)]
        keymap, problems = load_keymap(self._keymap_file, [i for i in ids if i])
        if keymap:
            self.set_keymap(keymap)
        if problems:
            self.notify(
                "\n".join(problems), title="keymap.toml: some keys not remapped", severity="warning"
            )

    # -- runs --------------------------------------------------------------------------------

    @property
    def activity(self) -> str:
        if self.model.running:
            return "running"
        if self.run_active:
            return "starting"
        if self.model.stopped:
            return "stopped"
        if self.paused:
            return "paused"
        return "watching" if self.watching else "idle"

    @property
    def run_active(self) -> bool:
        """A run worker is starting or running (the child may not have said so yet)."""
        worker = self._run_worker_obj
        return worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    @property
    def run_token(self) -> int:
        """Names the current run worker: a `RunnerUpdate` with another token is dropped."""
        return self._token

    @property
    def child_pid(self) -> int | None:
        """The pid of the pipeline's worker process, while there is one."""
        return self._session.pid if self._session is not None else None

    @property
    def pending_saves(self) -> frozenset[Path]:
        """Files saved while watching was paused: they run when it resumes."""
        return frozenset(self._pending_changes)

    def start_run(self, why: str) -> None:
        """Start a run now; a run in progress is cancelled (its cached work stays cached)."""
        self._token += 1
        self.runs_started += 1
        if self.model.running:
            self.model.interrupted(None, reason=f"cancelled: {why}")
        self._run_worker_obj = self._run_pipeline(self.target, self._token, why)
        self.model.summary_dirty = True

    @work(exclusive=True, group="run", exit_on_error=False, name="run")
    async def _run_pipeline(self, target: Target, token: int, why: str) -> None:
        from flowyml_tui.runner.protocol import StepLogBatch
        from flowyml_tui.runner.session import RunSession

        session = self._session
        if session is not None and self._session_target != target:
            await session.aclose()
            session = None
        if session is None:
            session = RunSession(
                target.file,
                pipeline=target.pipeline,
                cache_dir=self.cache_dir,
                runner_args=self.runner_args,
                warm_imports=self.warm_imports,
            )
            self._session, self._session_target = session, target
        await session.cancel(why)
        session.context = dict(self.context)
        session.approved = set(self.approved)
        async for message in session.run(batched_logs=True):
            if isinstance(message, StepLogBatch):
                self._pending_logs.extend(message.logs)
                self._pending_logs_token = token
                continue
            if isinstance(message, StepLog):
                # A chatty step prints thousands of lines a second: they are handed over once
                # per frame (catch_up) as one message, not one message and handler per line.
                self._pending_logs.append(message)
                self._pending_logs_token = token
                continue
            self._hand_over_logs()  # what was printed before this event, in order
            self._send(message, token)
        self._hand_over_logs()

    def _hand_over_logs(self) -> None:
        if self._pending_logs:
            batch, self._pending_logs = self._pending_logs, []
            self._send(StepLogs(tuple(batch)), self._pending_logs_token)

    def _send(self, payload: object, token: int) -> None:
        """Queue a worker message; everything read before the worker next waits goes out as
        one `RunnerUpdate` (a cached run's thousands of events: one message, not thousands)."""
        if self._outgoing and token != self._outgoing_token:
            self._post_outgoing()
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._post_outgoing)
        self._outgoing.append(payload)
        self._outgoing_token = token

    def _post_outgoing(self) -> None:
        if self._outgoing:
            batch, self._outgoing = tuple(self._outgoing), []
            self.post_message(RunnerUpdate(batch, self._outgoing_token))

    @work(group="watch", exit_on_error=False, name="watch files")
    async def _follow_saves(self) -> None:
        from flowyml_tui.runner.watch import DEFAULT_IGNORE_DIRS, watch_pipeline_files

        ignore: list[str | Path] = list(DEFAULT_IGNORE_DIRS)
        if self.cache_dir:
            ignore.append(Path(self.cache_dir).resolve())
        async for changed in watch_pipeline_files(
            self.files,
            extra=lambda: (*self.local_modules, *self._files_read()),
            ignore_dirs=ignore,
            stop_event=self._watch_stop,
        ):
            self.post_message(FilesChanged(frozenset(changed)))

    def _files_read(self) -> list[Path]:
        """The files and folders the steps' results read: saving one re-runs the pipeline."""
        base = self.target.file.resolve().parent
        return [base / path for path in sorted(self.model.read_paths)]

    @on(FilesChanged)
    def _files_changed(self, message: FilesChanged) -> None:
        if self.paused:
            self._pending_changes |= set(message.paths)
            self.model.summary_dirty = True
            return
        self._react_to_changes(set(message.paths))

    def _react_to_changes(self, paths: set[Path]) -> None:
        current = self.target.file.resolve()
        others = [p for p in self.files if p.resolve() in paths and p.resolve() != current]
        if current in paths or not others:
            names = ", ".join(sorted(p.name for p in paths))
            self.start_run(f"saved {names}")
        else:
            self._switch_target(Target(others[0], None), why=f"saved {others[0].name}")

    def _switch_target(self, target: Target, *, why: str) -> None:
        if target == self.target:
            return
        self.target = target
        self.model = RunModel(describe_runner(self.runner_args))
        self.model.structure_changed = True
        self._details_dirty = True
        self._refresh_selector()
        self.start_run(why)

    @on(RunnerUpdate)
    async def _runner_update(self, message: RunnerUpdate) -> None:
        """Fold the run's messages into the model, EVENTS_PER_TURN at a time: what is left
        waits behind the keys already queued, in its order, and the event loop is let go
        between slices so that frames are drawn (Textual handles queued messages back to
        back without yielding)."""
        backlog = self._backlog
        backlog.extend((message.token, payload) for payload in message.payloads)
        model = self.model
        problem = model.problem
        now = self.clock()
        started = False
        for _ in range(min(len(backlog), EVENTS_PER_TURN)):
            token, payload = backlog.popleft()
            if token != self._token:
                continue  # a late message from a run that was replaced
            if type(payload) is RunStarted:  # a row per step, frozen by `_run_started`
                built_whole(len(payload.steps), partial(model.apply, payload, now))
            else:
                model.apply(payload, now)  # the model's own table (`state._APPLY`)
            started = started or type(payload) is StepStarted
            react = self._reactions.get(type(payload))
            if react is not None:  # what the app itself does: widgets and workers
                react(payload, token)
                model = self.model  # a reaction may have switched the target
        if model.problem is not problem:
            self.query_one(ErrorPanel).show(model.problem)
        if started:
            self._draw_at_once()
        if backlog:
            self.post_message(RunnerUpdate((), self._token))
            await asyncio.sleep(0)

    def _frame(self) -> None:
        """The frame tick; the one right after a row drawn at once leaves the details to the
        next, so that row's frame is not held back by their layout."""
        self.catch_up(details=time.monotonic() - self._drawn_at_once >= FRAME_SECONDS)

    def _draw_at_once(self) -> None:
        """A step that starts is what a save waits for: draw its row now, not at the next
        frame tick (up to FRAME_SECONDS later), and its details at that tick. At most once a
        frame, so a run of many short steps still catches up at the frame rate."""
        now = time.monotonic()
        if now - self._drawn_at_once >= FRAME_SECONDS:
            self._drawn_at_once = now
            self.catch_up(details=False)
            if not self._shut_down:  # and to the terminal now, not at the screen's next tick
                with contextlib.suppress(NoMatches):  # the screen is being torn down
                    paint_now(self.query_one(StepTable))

    def _run_started(self, payload: RunStarted, token: int) -> None:
        settle(len(self.model.rows))  # the run's new rows live as long as the run
        self.query_one(ErrorPanel).show(self.model.problem)
        self._warning_toasts = 0
        if self.known_cache_dir:
            self._find_estimates(self.known_cache_dir, self.model.pipeline, token)

    def _run_finished(self, payload: RunFinished, token: int) -> None:
        self.call_after_refresh(settle, len(self.model.rows))  # once its cells are written
        self._refresh_bindings_if_changed()
        self._look_up_origin_logs(token)
        self._ask_for_approvals()

    @work(thread=True, group="estimates", exit_on_error=False, name="read step durations")
    def _find_estimates(self, cache_dir: str, pipeline: str, token: int) -> None:
        from .estimates import expected_durations

        with collection_paused():  # a big pipeline's records: no collection holding the GIL
            expected = expected_durations(cache_dir, pipeline)
        self.post_message(EstimatesFound(expected, token))

    @on(EstimatesFound)
    def _estimates_found(self, message: EstimatesFound) -> None:
        if message.token == self._token:
            self.model.set_expected(message.expected)

    def _look_up_origin_logs(self, token: int) -> None:
        """Cached steps printed nothing this run: find what the run that produced them printed."""
        cache_dir = self.known_cache_dir
        keys = {
            row.name: row.key
            for row in self.model.rows.values()
            if row.cached and row.key and not row.logs
        }
        if cache_dir and keys:
            self._find_origin_logs(cache_dir, self.model.pipeline, keys, token)

    @work(thread=True, group="origin logs", exit_on_error=False, name="read run records")
    def _find_origin_logs(
        self, cache_dir: str, pipeline: str, keys: dict[str, str], token: int
    ) -> None:
        from .origin_logs import producing_logs

        with collection_paused():  # a big pipeline's records: no collection holding the GIL
            found = producing_logs(cache_dir, pipeline, keys)
        if found:
            self.post_message(OriginLogsFound(dict(found), token))

    @on(OriginLogsFound)
    def _origin_logs_found(self, message: OriginLogsFound) -> None:
        if message.token != self._token:
            return
        for name, log in message.logs.items():
            row = self.model.rows.get(name)
            if row is not None and isinstance(log, OriginLog):
                row.origin_log = log
                self.model.dirty.add(name)

    def _pipelines_found(self, found: PipelinesFound) -> None:
        file = Path(found.file)
        key = next((f for f in self.files if f.resolve() == file.resolve()), file)
        self.pipelines[key] = tuple(found.names)
        self.local_modules = tuple(Path(m) for m in found.local_modules)
        if self.target.file == key and self.target.pipeline != found.selected:
            self.target = Target(key, found.selected)
            self._session_target = self.target
        self._refresh_selector()

    def _warning_toast(self, warning: RunWarning) -> None:
        """A new warning once, shortened: a repeat on the next run is only counted (`W` lists)."""
        if not self.model.is_new_warning(warning):
            return
        self._warning_toasts += 1
        if self._warning_toasts <= MAX_WARNING_TOASTS:
            where = f"{warning.step}: " if warning.step else ""
            text = where + warning.message
            short = text if len(text) <= TOAST_CHARS else text[: TOAST_CHARS - 1] + "…"
            keys = ", ".join(self.keys_for("warnings")) or "W"
            self.notify(
                f"{short}\n{keys} lists every warning.", title="Warning", severity="warning"
            )

    def keys_for(self, binding_id: str) -> list[str]:
        """The keys bound to `binding_id` now (after the keymap), as the footer shows them."""
        from .commands import live_keys

        return list(dict.fromkeys(live_keys(self.screen).get(binding_id, ())))

    # -- drawing -----------------------------------------------------------------------------

    def catch_up(self, *, details: bool = True) -> None:
        """Bring the widgets up to date with the model: at most once per frame. `details=False`
        leaves the detail pane to the next frame: its new text may change its height, and
        the layout that costs would hold back the rows drawn with it."""
        if self._shut_down:
            return
        self._hand_over_logs()
        with contextlib.suppress(NoMatches):  # the screen is being torn down: any widget may go
            self._bring_widgets_up_to_date(details)

    def _bring_widgets_up_to_date(self, details: bool) -> None:
        model = self.model
        now = self.clock()
        table = self.query_one(StepTable)
        selected = table.selected_step
        shown_rows = None
        if self.step_filter:
            shown_rows = matching(model.rows.values(), self.step_filter)
            if {row.name for row in shown_rows} != table.shown_steps:
                model.structure_changed = True  # a step came into or went out of the filter
        if model.structure_changed:
            model.structure_changed = False
            model.take_dirty()
            shown = model.rows.values() if shown_rows is None else shown_rows
            build_frozen(len(shown), lambda: table.show_steps(shown, now))
            self._title_table(table, shown_rows)
            dirty = set(model.rows)
            if table.selected_step != selected:
                selected = table.selected_step
            self._details_dirty = True
        else:
            chosen = self._this_frame(table, model.take_dirty())
            rows = model.rows
            until = time.perf_counter() + FRAME_BUDGET_SECONDS
            late = table.update_steps([rows[name] for name in chosen if name in rows], now, until)
            dirty = set(chosen)
            if late:  # a loaded machine: the rest on the next frame, the frame on time
                model.dirty.update(late)
                dirty.difference_update(late)
        dag_shown = self.query_one(ContentSwitcher).current == "dag"
        if dag_shown:  # the DAG's selection is the selected step while it is shown
            selected = self.selected_step
        shown_at = time.monotonic()
        if model.summary_dirty and (
            not model.running or shown_at - self._summary_shown_at >= SUMMARY_SECONDS
        ):
            model.summary_dirty = False
            self._summary_shown_at = shown_at
            self.query_one(StatusLine).show(
                model, self.activity, str(self.target.file), self.context
            )
        if self._details_dirty or (selected is not None and selected in dirty):
            self._details_dirty = not details
            if details:
                self._show_details(selected)
        dag = self.query_one(DagView)
        if dirty and dag.display and dag_shown:
            dag.show(model, now, selected)

    def _title_table(self, table: StepTable, shown: list[Any] | None) -> None:
        if shown is None:
            table.border_title = "Steps"
        else:
            total = len(self.model.rows)
            table.border_title = f"Steps · /{self.step_filter} · {len(shown)} of {total}"

    def _this_frame(self, table: StepTable, dirty: set[str]) -> list[str]:
        """At most ROWS_PER_FRAME rows, in order, the visible ones first; the rest wait for
        the next frame.

        Picked with set operations on the rows on screen: asking the table where each dirty
        row is cost O(rows) a frame, ~100 ms at 10,000 steps.
        """
        on_screen = [name for name in table.steps_on_screen() if name in dirty]
        chosen = dict.fromkeys(on_screen[:ROWS_PER_FRAME])
        for name in dirty:
            if len(chosen) >= ROWS_PER_FRAME:
                break
            chosen[name] = None
        if len(chosen) < len(dirty):
            self.model.dirty.update(dirty.difference(chosen))
        return list(chosen)

    def _show_details(self, name: str | None) -> None:
        row = self.model.rows.get(name) if name else None
        history = self.model.history.get(name, ()) if name else ()
        self.query_one(DetailPane).show(row, list(history))

    def tick_elapsed(self) -> None:
        rows = self.model.rows  # only the steps that started: a tick over 10,000 rows was 9 ms
        running = [n for n in self.model.started_steps if n in rows and rows[n].status == RUNNING]
        self.model.dirty.update(running)
        self._show_spare()

    def _show_spare(self) -> None:
        """The waiting spare's warm-up, once it is done: the status line shows its memory."""
        warmed = self._session.spare_warmed if self._session is not None else None
        if warmed is not None and warmed != self.model.warm:
            self.model.warmed(warmed)

    def _restyle(self) -> None:
        self.query_one(StepTable).restyle()
        self.model.dirty.update(self.model.rows)
        self.model.summary_dirty = True
        self._details_dirty = True
        self.query_one(ErrorPanel).show(self.model.problem)
        self.query_one(DagView).show(self.model)

    def _refresh_selector(self) -> None:
        self.query_one(PipelineSelector).set_targets(
            self.files, self.pipelines, target_value(self.target.file, self.target.pipeline)
        )

    @on(DataTable.RowHighlighted, "#steps")
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._details_dirty = True
        with contextlib.suppress(NoMatches):  # still queued while the screen is torn down
            self._refresh_bindings_if_changed()

    def _refresh_bindings_if_changed(self) -> None:
        """The footer recomposes on refresh_bindings: only when what is enabled changed."""
        state = (
            self.selected_step is not None,
            self.known_cache_dir is not None,
            bool(self.waiting_approvals),
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    @on(Select.Changed, "#selector")
    def _target_selected(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            file, pipeline = parse_target(event.value)
            self._switch_target(Target(file, pipeline), why="pipeline selected")

    # -- store operations --------------------------------------------------------------------

    @property
    def known_cache_dir(self) -> str | None:
        return self.model.cache_dir or self.cache_dir

    @property
    def selected_step(self) -> str | None:
        if self.query_one(ContentSwitcher).current == "dag":
            selected = self.query_one(DagView).selected
            if selected is not None:
                return selected
        return self.query_one(StepTable).selected_step

    @work(thread=True, group="store", exit_on_error=False, name="cache")
    def _store_op(self, op: str, names: tuple[str, ...], cache_dir: str) -> None:
        from flowyml_tui.runner.cache_actions import change_cache

        done = change_cache(cache_dir, op, names, self.model.pipeline or None)
        self.post_message(StoreChanged(done.note, done.rerun, done.cleared))

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        if message.cleared:
            self.model.cache_cleared()
        self.notify(message.note)
        if message.rerun:
            self.start_run(message.note.lower())

    @work(thread=True, group="export", exit_on_error=False, name="export report")
    def _export(self, cache_dir: str) -> None:
        from flowyml_tui.report import export_latest

        # Into the cache dir, beside the run records, not into whatever folder we started in.
        directory = Path(cache_dir) / "reports"
        self.post_message(ReportExported(Path(export_latest(cache_dir, directory=directory))))

    @on(ReportExported)
    def _report_exported(self, message: ReportExported) -> None:
        self.notify(f"Report written to {message.path}", title="Exported")

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures reach the user; the app itself carries on."""
        worker = event.worker
        if worker is self._run_worker_obj:
            self.model.summary_dirty = True
        if event.state == WorkerState.ERROR:
            error = worker.error
            text = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
            self.notify(
                text, title=f"{worker.name or 'worker'} failed", severity="error", timeout=10
            )

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("invalidate", "invalidate_downstream", "toggle_pin"):
            return True if (self.selected_step and self.known_cache_dir) else None
        if action in ("clear_cache", "export", "past_runs", "savings"):
            return True if self.known_cache_dir else None
        if action == "approve":
            return bool(self.waiting_approvals)  # shown only while a step waits
        return True

    @property
    def waiting_approvals(self) -> list[str]:
        """Approval steps of the last run that failed waiting for a yes
        (`engine/define/approval.py`)."""
        from flowyml_tui.engine.define.approval import WAITING_MARK

        rows = self.model.rows  # only failed steps wait: the rows are read when one does
        waiting = {
            name
            for name in self.model.failed
            if WAITING_MARK in (rows[name].error or rows[name].reason)
        }
        return [name for name in rows if name in waiting] if waiting else []

    def _ask_for_approvals(self) -> None:
        waiting = self.waiting_approvals
        if waiting:
            keys = ", ".join(self.keys_for("approve")) or "A"
            self.notify(
                f"{', '.join(waiting)} waits for approval. Press {keys} to approve and run again.",
                title="Approval needed",
                severity="warning",
            )

    def action_approve(self) -> None:
        """Approve the selected waiting step (else every waiting one) and run again."""
        waiting = self.waiting_approvals
        chosen = [self.selected_step] if self.selected_step in waiting else waiting
        if not chosen:
            self.notify("No step waits for approval.")
            return
        self.approved.update(n for n in chosen if n)
        self.start_run(f"approved {', '.join(n for n in chosen if n)}")

    def action_rerun(self) -> None:
        self.start_run("re-run requested")

    def action_stop(self) -> None:
        if self.run_active and self._session is not None:
            self._stop_run(self._session)
        else:
            self.notify("No run in progress.")

    @work(group="stop", exit_on_error=False, name="stop run")
    async def _stop_run(self, session: RunSession) -> None:
        await session.stop()

    def action_invalidate(self) -> None:
        name, cache_dir = self.selected_step, self.known_cache_dir
        if name and cache_dir:
            self._store_op("invalidate", (name,), cache_dir)

    def action_invalidate_downstream(self) -> None:
        name, cache_dir = self.selected_step, self.known_cache_dir
        if name and cache_dir:
            self._store_op("invalidate", tuple(self.model.downstream(name)), cache_dir)

    def action_toggle_pin(self) -> None:
        name, cache_dir = self.selected_step, self.known_cache_dir
        if name and cache_dir:
            self._store_op("pin", (name,), cache_dir)

    def action_clear_cache(self) -> None:
        cache_dir = self.known_cache_dir
        if not cache_dir:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._store_op("clear", (), cache_dir)

        self.push_screen(
            ConfirmScreen(f"Delete every cached result in {cache_dir}?", yes="Clear"), answered
        )

    def action_clear_calls(self) -> None:
        """Empty the call caches (CachePrimitive) the selected step used this session."""
        name = self.selected_step
        if not name:
            return
        places = tuple(sorted(self.model.call_places.get(name, ())))
        keys = "/".join(self.keys_for("invalidate")) or "i"
        if not places:
            self.notify(
                f"{name} used no call cache on disk in this session; if it calls a "
                f"CachePrimitive, re-run it ({keys}) so its calls are known, then clear them"
            )
            return
        self._clear_calls(name, places, keys)

    @work(thread=True, group="store", exit_on_error=False, name="clear calls")
    def _clear_calls(self, name: str, places: tuple[str, ...], keys: str) -> None:
        from flowyml_tui.runner.cache_actions import clear_calls

        done = clear_calls(name, places, keys)
        self.post_message(StoreChanged(done.note, done.rerun))

    def action_edit_context(self) -> None:
        from .context_keys import context_key_lines
        from .screens.context_editor import ContextScreen

        def applied(context: dict[str, Any] | None) -> None:
            if context is not None:
                self.context = context
                self.model.summary_dirty = True
                shown = ", ".join(f"{k}={v!r}" for k, v in context.items()) or "no values"
                self.start_run(f"context changed: {shown}")

        rows = self.model.rows.values()
        keys = context_key_lines((r.info for r in rows), self.context) if rows else None
        self.push_screen(ContextScreen(self.context, keys), applied)

    def action_toggle_watch(self) -> None:
        self.paused = not self.paused
        self.model.summary_dirty = True
        if self.paused:
            going = " The run in progress goes on; s stops it." if self.run_active else ""
            self.notify(f"Watching paused: saves are noted, not run.{going} Press w to resume.")
        elif self._pending_changes:
            changes, self._pending_changes = self._pending_changes, set()
            self._react_to_changes(changes)
        else:
            self.notify("Watching resumed.")

    def action_toggle_dag(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "dag" if switcher.current == "steps" else "steps"
        switcher.set_class(switcher.current == "dag", "-dag")
        if switcher.current == "dag":
            dag = self.query_one(DagView)
            dag.show(self.model, selected=self.selected_step)
            self.call_after_refresh(dag.show, self.model)
            dag.focus()  # arrow keys move along the graph
        else:
            self.query_one(StepTable).focus()

    @on(DagView.Selected)
    def _dag_selected(self, event: DagView.Selected) -> None:
        """The DAG moved its selection: the table's cursor (and so the details) follow."""
        table = self.query_one(StepTable)
        if event.step in table.shown_steps:
            table.move_cursor(row=table.get_row_index(event.step), animate=False)
        self._details_dirty = True
        self._refresh_bindings_if_changed()

    def action_copy_detail(self) -> None:
        """The selected step's traceback, else its diff, to the clipboard (OSC 52: over SSH)."""
        name = self.selected_step
        row = self.model.rows.get(name) if name else None
        if row is None or not (row.error or row.diff):
            self.notify("Nothing to copy: the selected step has no traceback or diff.")
            return
        what, text = ("traceback", row.error) if row.error else ("diff", row.diff)
        assert text is not None
        self.copy_to_clipboard(text)
        lines = text.count("\n") + 1
        self.notify(f"Copied the {what} of {row.name} ({lines} lines) to the clipboard.")

    def action_open_source(self) -> None:
        """The selected step's `def` in $VISUAL/$EDITOR; the app gives it the terminal."""
        import subprocess

        from textual.app import SuspendNotSupported

        from .editor import editor_command

        name = self.selected_step
        row = self.model.rows.get(name) if name else None
        file = row.info.source_file if row else None
        if row is None or not file:
            self.notify("The selected step has no source file to open.")
            return
        line = row.info.source_line
        command = editor_command(file, line)
        where = f"{file}:{line}" if line else file
        try:
            with self.suspend():
                returncode = subprocess.call(command)
        except SuspendNotSupported:
            self.notify(f"Cannot hand the terminal to an editor here; the step is at {where}.")
            return
        except OSError as exc:
            self.notify(f"Cannot start {command[0]!r} ({exc.strerror or exc}); set $EDITOR.")
            return
        if returncode:
            self.notify(f"{command[0]} exited with code {returncode}.", severity="warning")

    def action_filter_steps(self) -> None:
        box = self.query_one(StepFilter)
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#step-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.step_filter = event.value.strip()
        self.model.structure_changed = True

    @on(Input.Submitted, "#step-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.remove_class("-visible")
        self.query_one(StepTable).focus()

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#detail-tabs", TabbedContent).active = tab

    def action_full_log(self) -> None:
        from .screens.full_log import FullLogScreen

        name = self.selected_step
        row = self.model.rows.get(name) if name else None
        if row is None:
            self.notify("Select a step first.")
            return
        path = self.model.log_file(row.name)
        title = f"{row.name}: output of this run"
        fallback = "".join(row.logs)
        origin = row.origin_log
        if path is None and row.cached and origin is not None:
            title = f"{row.name}: output of run {origin.run_id}, which produced the cached result"
            fallback = "\n".join(origin.lines)
            if origin.file and self.known_cache_dir:
                candidate = Path(self.known_cache_dir) / origin.file
                path = candidate if candidate.is_file() else None
        if path is None and not fallback.strip():
            self.notify(f"{row.name} printed nothing.")  # an empty screen would say less
            return
        self.push_screen(FullLogScreen(title, path, fallback))

    def action_warnings(self) -> None:
        from .screens.warnings import WarningsScreen

        self.push_screen(WarningsScreen(list(self.model.warning_log.values())))

    def action_past_runs(self) -> None:
        from .screens.past_runs import PastRunsScreen

        cache_dir = self.known_cache_dir
        if cache_dir:
            self.push_screen(PastRunsScreen(cache_dir, self.model.pipeline or None))

    def action_savings(self) -> None:
        from .screens.savings import SavingsScreen

        cache_dir = self.known_cache_dir
        if cache_dir:
            self.push_screen(SavingsScreen(cache_dir, self.model.pipeline or None))

    def action_export(self) -> None:
        cache_dir = self.known_cache_dir
        if cache_dir:
            self._export(cache_dir)

    def action_help(self) -> None:
        rows = []
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if active.node is self and binding.id:
                rows.append((binding.key_display or key, binding.description, binding.id))
        for binding in StepTable.BINDINGS:  # j/k: the table's own keys, not the app's
            if isinstance(binding, Binding) and binding.id:
                rows.append((binding.key, f"{binding.description} (step table)", binding.id))
        self.push_screen(HelpScreen(rows))

    async def action_quit(self) -> None:
        await self.shutdown_runs()
        self.exit(0)

    async def shutdown_runs(self) -> None:
        """Stop the watcher and the child; after this no process of ours is left."""
        if self._shut_down:
            return
        self._shut_down = True
        self._watch_stop.set()
        self.workers.cancel_group(self, "run")
        if self._session is not None:
            await self._session.aclose()

    async def on_unmount(self) -> None:
        await self.shutdown_runs()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self, self.BINDINGS, screen)


def make_app(
    paths: Sequence[str | Path],
    *,
    pipeline: str | None = None,
    cache_dir: str | None = None,
    theme: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    watch: bool = True,
    autorun: bool = True,
    themes_from: Iterable[Path] | None = None,
    keymap_file: Path | None = None,
    context: Mapping[str, Any] | None = None,
    runner_args: Sequence[str] = (),
    warm_imports: bool = True,
) -> FlowymlApp:
    """Build the app for these FILE_OR_DIR arguments; tests pass a temp cache dir and a clock."""
    from flowyml_tui.runner.watch import discover_pipeline_files

    files = discover_pipeline_files([Path(p) for p in paths])
    return FlowymlApp(
        files,
        pipeline=pipeline,
        cache_dir=cache_dir,
        theme=theme,
        clock=clock,
        watch=watch,
        autorun=autorun,
        themes_from=themes_from,
        keymap_file=keymap_file,
        context=context,
        runner_args=runner_args,
        warm_imports=warm_imports,
    )
