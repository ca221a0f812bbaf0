"""Child side of a run: load the pipeline file fresh, run it, write events as JSON lines.

Run as ``python -m flowyml_tui.runner.worker FILE [--pipeline NAME] [--cache-dir DIR]
[--no-cache] --events-fd N [--lifeline-fd M]``. Events go to fd N only, never to stdout, so
whatever user code prints cannot corrupt the protocol. On Linux the worker is a child subreaper
and kills every process user code started, detached or not, before it exits. Start-up time is
on the save -> running path: keep imports here to the engine and the standard library (no
textual, rich, numpy).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import faulthandler
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flowyml_tui.engine.events import Event, StepFinished, StepLog, StepStarted
from flowyml_tui.engine.hashing import is_user_file
from flowyml_tui.engine.run.choose import add_runner_arguments, make_runner
from flowyml_tui.runner.kept import KeptChildren
from flowyml_tui.runner.proctree import become_subreaper, kill_tree, reap_children
from flowyml_tui.runner.protocol import (
    EXIT_CHANNEL_LOST,
    LoadFailed,
    ModulesImported,
    PipelinesFound,
    RunnerMessage,
    WarmedUp,
    WorkerExiting,
    encode_log_batch,
)
from flowyml_tui.startup import paused_gc

if TYPE_CHECKING:
    from flowyml_tui.engine.pipeline import Pipeline
    from flowyml_tui.engine.result import RunResult
    from flowyml_tui.engine.run.runner import StepRunner

EXIT_OK = 0
EXIT_LOAD_FAILED = 2
EXIT_USAGE = 64
EXIT_PARENT_GONE = 70
_REAP_SECONDS = 2.0
LOG_BATCH_SECONDS = 0.02
LOG_BATCH_LINES = 512


class Channel:
    """The events pipe: one JSON line per message, written at once so the parent sees steps
    live. A step's printed lines are batched (`LOG_BATCH_SECONDS`, `LOG_BATCH_LINES`): a line
    after a quiet spell goes out at once, the lines after it within the window go together,
    and any other event first sends what waits, so the order and `StepFinished` after its
    lines hold."""

    def __init__(self, fd: int) -> None:
        os.set_inheritable(fd, False)  # processes user code starts must not keep the pipe open
        self._fd = fd
        self._lock = threading.Lock()  # steps may report from several threads
        self.engine_events = 0
        self.current_step: str | None = None
        self._logs: list[StepLog] = []
        self._last_flush = 0.0
        self._wake = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None

    def send(self, message: Event | RunnerMessage) -> None:
        if isinstance(message, StepLog):
            self.engine_events += 1
            with self._lock:
                logs = self._logs
                logs.append(message)
                if len(logs) >= LOG_BATCH_LINES or (
                    len(logs) == 1 and time.monotonic() - self._last_flush >= LOG_BATCH_SECONDS
                ):
                    self._flush_locked()
                elif len(logs) == 1:
                    self._start_flusher()
                    self._wake.notify()
            return
        if isinstance(message, Event):
            self.engine_events += 1
            if isinstance(message, StepStarted):
                self.current_step = message.step
            elif isinstance(message, StepFinished) and message.step == self.current_step:
                self.current_step = None
        data = (message.to_json() + "\n").encode("utf-8", "surrogatepass")
        with self._lock:
            if self._logs:
                self._flush_locked()
            self._write_locked(data)

    def _flush_locked(self) -> None:
        logs, self._logs = self._logs, []
        self._last_flush = time.monotonic()
        self._write_locked(encode_log_batch(logs))

    def _write_locked(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            if exc.errno == errno.EBADF:  # not the parent: something here closed our fd
                _channel_lost(self._fd)
            _parent_gone()  # EPIPE: the parent is gone, nobody will read what we do

    def _start_flusher(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_late, name="flowyml-log-flush", daemon=True
            )
            self._flusher.start()

    def _flush_late(self) -> None:
        """Send batched lines at most `LOG_BATCH_SECONDS` after the first of them."""
        with self._lock:
            while True:
                while not self._logs:
                    self._wake.wait()
                self._wake.wait(LOG_BATCH_SECONDS)
                if self._logs:
                    self._flush_locked()


def _parent_gone() -> None:
    """Stop at once, with any process user code started, instead of running unwatched."""
    kill_tree(os.getpid(), frozenset(_KEPT.procs))
    if os.getpgrp() == os.getpid():  # started by a session: we lead our own group
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(EXIT_PARENT_GONE)


def _channel_lost(fd: int) -> None:
    """The events fd was closed under us (a step's `os.close`, a close-all-fds helper): no
    event can reach the parent any more, so stop and leave it a distinct exit code."""
    with contextlib.suppress(OSError, ValueError):
        sys.__stderr__.write(  # type: ignore[union-attr]
            f"flowyml: the event channel (fd {fd}) was closed inside the worker; a step closed "
            "a file descriptor it did not own?\n"
        )
        sys.__stderr__.flush()  # type: ignore[union-attr]
    _stop_descendants()
    os._exit(EXIT_CHANNEL_LOST)


_KEPT = KeptChildren(())
"""What `keep_children=True` steps of this worker's run started: left running at the end."""


def _stop_descendants() -> None:
    """Kill everything user code started, detached or not, and reap it: the run is over."""
    spare = frozenset(_KEPT.procs)
    kill_tree(os.getpid(), spare)
    reap_children(_REAP_SECONDS, spare)


def _watch_lifeline(fd: int) -> threading.Event:
    """The parent holds the write end of this pipe: a byte means go, EOF means it died."""
    os.set_inheritable(fd, False)
    go = threading.Event()

    def wait() -> None:
        try:
            while os.read(fd, 1):
                go.set()
        except OSError:
            pass
        _parent_gone()

    threading.Thread(target=wait, name="flowyml-lifeline", daemon=True).start()
    return go


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flowyml_tui.runner.worker",
        description="Run one pipeline file; write its events as JSON lines to a descriptor.",
    )
    parser.add_argument("file", help="the pipeline file (a .py file that defines a Pipeline)")
    parser.add_argument("--pipeline", help="which pipeline to run when the file defines several")
    parser.add_argument("--cache-dir", help="override the pipeline's cache directory")
    parser.add_argument("--no-cache", action="store_true", help="run every step, cache nothing")
    parser.add_argument("--context-json", help="run context values, a JSON object")
    parser.add_argument(
        "--approve", metavar="NAME", action="append", default=[], help="approve step NAME"
    )
    add_runner_arguments(parser)
    parser.add_argument("--events-fd", type=int, required=True, help="fd to write events to")
    parser.add_argument("--lifeline-fd", type=int, help="fd whose EOF means the parent died")
    parser.add_argument(
        "--wait-for-go",
        action="store_true",
        help="import the engine, then wait for a byte on the lifeline before loading FILE",
    )
    parser.add_argument(
        "--warm-fd",
        type=int,
        help="with --wait-for-go: a file descriptor listing the modules to import while "
        "waiting, one a line",
    )
    parser.add_argument(
        "--store-ahead",
        metavar="DIR",
        help="with --wait-for-go: open the cache at DIR while waiting (the last run's)",
    )
    parser.add_argument(
        "--report-imports",
        action="store_true",
        help="end with the modules the run imported from outside the project, for the next spare",
    )
    return parser.parse_args(argv)


def _import_flowyml_ahead(path: Path) -> None:
    """A spare worker for a file using the real flowyml pays its ~1 s import before the save.

    A flowyml that fails to import is left for the load to report, with the user's frame.
    """
    from flowyml_tui.engine.compat.shim import real_flowyml_installed
    from flowyml_tui.engine.compat.translate import uses_flowyml

    if uses_flowyml(path) and real_flowyml_installed():
        with contextlib.suppress(Exception):
            import flowyml  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    become_subreaper()  # before any user code: orphans of its daemons come back to us
    channel = Channel(args.events_fd)
    if args.wait_for_go and args.lifeline_fd is None:
        print("--wait-for-go needs --lifeline-fd: the go byte arrives there", file=sys.stderr)
        return EXIT_USAGE
    go = _watch_lifeline(args.lifeline_fd) if args.lifeline_fd is not None else None
    try:  # before waiting: a spare worker has the engine imported when the save comes
        with paused_gc():
            from flowyml_tui.engine.load.loader import load_pipelines  # noqa: F401  (ahead of the go)

            if args.wait_for_go:
                _import_flowyml_ahead(Path(os.path.abspath(args.file)))
            warmed = _warm_up(args, go)
            _prepare_ahead(args, go)
    except BaseException as exc:
        engine_error: BaseException | None = exc
        warmed = None
    else:
        engine_error = None
    if warmed is not None:  # read by the session while we wait: the status line shows it
        channel.send(warmed)
    global _IMPORTED_BEFORE_USER_CODE
    _IMPORTED_BEFORE_USER_CODE = frozenset(sys.modules)
    if args.wait_for_go and go is not None:
        go.wait()
    code = _load_and_run(args, channel, engine_error)
    if args.report_imports:  # what the next spare imports while it waits
        channel.send(_imports_to_warm(Path(os.path.abspath(args.file))))
    return code


def _warm_up(args: argparse.Namespace, go: threading.Event | None) -> WarmedUp | None:
    """Import what the last run imported from outside the project, before the go."""
    if not (args.wait_for_go and args.warm_fd is not None and go is not None):
        return None
    from flowyml_tui.runner.warm import read_list, resident_bytes, warm_up

    names, versions = read_list(args.warm_fd)
    before = resident_bytes()
    packages = warm_up(names, _roots(Path(os.path.abspath(args.file))), go, versions)
    after = resident_bytes()
    extra = after - before if before is not None and after is not None else None
    complete = not go.is_set()
    return WarmedUp(packages, sum(1 for n in names if n in sys.modules), extra, complete)


def _prepare_ahead(args: argparse.Namespace, go: threading.Event | None) -> None:
    """Before the go, what every run does before its first step and a spare can do first:
    work out where the standard library and site-packages are (code identity asks), and open
    the last run's cache. Any problem is left for the run, which says what is wrong."""
    if not (args.wait_for_go and go is not None) or go.is_set():
        return
    from flowyml_tui.engine.hashing.origin import know_install_dirs

    know_install_dirs()
    if args.store_ahead and not args.no_cache and not go.is_set():
        from flowyml_tui.engine.cache.ahead import open_ahead

        with contextlib.suppress(Exception):
            open_ahead(args.store_ahead)


def _imports_to_warm(path: Path) -> ModulesImported:
    from flowyml_tui.engine.hashing.origin import versions_looked_up
    from flowyml_tui.runner.warm import modules_to_warm

    return ModulesImported(modules_to_warm(_roots(path)), versions_looked_up())


def _load_and_run(
    args: argparse.Namespace, channel: Channel, engine_error: BaseException | None
) -> int:
    faulthandler.enable()  # a segfault leaves the Python stack (file and line) on stderr
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    path = Path(os.path.abspath(args.file))
    sys.argv = [str(path)]
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))

    overrides = json.loads(args.context_json) if args.context_json else {}
    if args.approve:  # before any worker process starts: they inherit it
        from flowyml_tui.engine.define.approval import grant

        grant(args.approve)
    runner = None
    try:
        if engine_error is not None:
            raise engine_error
        from flowyml_tui.engine.load.loader import load_pipelines  # imported before the go

        runner = make_runner(args.jobs, args.dask)
        shown = RunsOnChannel(channel, path, args, overrides, runner)
        with paused_gc():  # importing the user's file is start-up too
            pipelines = load_pipelines(path, shown)
    except BaseException as exc:  # anything user code raises at import is a load failure
        if runner is not None:
            runner.close()
        channel.send(_load_failed(exc, path))
        return EXIT_LOAD_FAILED

    names = tuple(pipelines)  # never empty: load_pipelines refuses a file without one
    selected = shown.selected or (args.pipeline if args.pipeline is not None else names[0])
    if selected not in pipelines:
        if runner is not None:
            runner.close()
        message = (
            f"{path.name} has no pipeline named {selected!r}; it defines "
            f"{', '.join(repr(n) for n in names)}. Pick one of those with --pipeline."
        )
        channel.send(LoadFailed(str(path), None, message, ""))
        return EXIT_LOAD_FAILED
    channel.send(PipelinesFound(str(path), names, selected, local_modules(path)))
    if shown.shown:  # the script ran the selected pipeline itself: that was the run
        if runner is not None:
            runner.close()
        return EXIT_OK
    pipeline = pipelines[selected]
    _configure(pipeline, args)

    try:
        keepers = [s.name for s in pipeline.steps if s.keep_children]
        on_event = channel.send
        if keepers:
            global _KEPT
            _KEPT = KeptChildren(keepers)
            on_event = _both(_KEPT.on_event, channel.send)
        try:
            pipeline.run(overrides, on_event=on_event, runner=runner)
        finally:
            if runner is not None:
                runner.close()
    except SystemExit as exc:
        code = _exit_code(exc)
        file, line = _user_location(exc, path)
        where = f" in step {channel.current_step!r}" if channel.current_step else ""
        message = f"the pipeline called sys.exit({exc.code!r}){where}"
        channel.send(WorkerExiting(code, message, file, line, channel.current_step))
        return code
    except BaseException as exc:
        if channel.engine_events == 0:  # the run refused to start: a definition problem
            channel.send(_load_failed(exc, path))
            return EXIT_LOAD_FAILED
        traceback.print_exc()
        return 1
    return EXIT_OK


def _configure(pipeline: Pipeline, args: argparse.Namespace) -> None:
    if args.cache_dir is not None:
        pipeline.cache_dir = args.cache_dir
    if args.no_cache:
        pipeline.enable_cache = False


class RunsOnChannel:
    """The worker's `RunHandler`: the runs a script makes, the selected pipeline's shown live.

    The selected pipeline is `--pipeline`, else the first the script runs. Its runs send
    `PipelinesFound` (the pipelines seen so far) and then their events to the workbench;
    other pipelines run quietly, cached and recorded, since the script needs their results.
    The workbench's context values override the ones the script passed.
    """

    def __init__(
        self,
        channel: Channel,
        path: Path,
        args: argparse.Namespace,
        overrides: dict[str, Any],
        runner: StepRunner | None,
    ) -> None:
        self.channel = channel
        self.path = path
        self.args = args
        self.overrides = overrides
        self.runner = runner
        self.selected: str | None = args.pipeline
        self.names: list[str] = []
        self.shown = False

    def __call__(self, pipeline: Pipeline, context: dict[str, Any]) -> RunResult:
        _configure(pipeline, self.args)
        merged = {**context, **self.overrides}
        if pipeline.name not in self.names:
            self.names.append(pipeline.name)
        if self.selected is None:
            self.selected = pipeline.name
        if pipeline.name != self.selected:
            return pipeline.run(merged, runner=self.runner)
        found = PipelinesFound(
            str(self.path), tuple(self.names), self.selected, local_modules(self.path)
        )
        self.channel.send(found)
        self.shown = True
        return pipeline.run(merged, on_event=self.channel.send, runner=self.runner)


def _both(first: Callable[[Any], None], second: Callable[[Any], None]) -> Callable[[Any], None]:
    def both(message: Any) -> None:
        first(message)
        second(message)

    return both


def _load_failed(exc: BaseException, path: Path) -> LoadFailed:
    """Point at the user's code: the syntax error's own line, or the deepest frame in the file."""
    file, line = _user_location(exc, path)
    original = _innermost(exc)
    if isinstance(original, SystemExit):  # exc itself never is: the loader wraps what it raised
        message = f"{path.name} called sys.exit({original.code!r}) at import time"
    elif original is exc or type(exc).__name__ != "PipelineLoadError":
        message = _describe(original)
    else:
        message = str(exc) or _describe(original)
    if isinstance(original, SyntaxError):  # the import machinery's frames are noise here
        tb = "".join(traceback.format_exception_only(original))
    else:
        tb = "".join(traceback.format_exception(original))
    return LoadFailed(file, line, message, tb)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        where = f" ({Path(exc.filename).name}, line {exc.lineno})" if exc.filename else ""
        return f"{type(exc).__name__}: {exc.msg}{where}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _innermost(exc: BaseException) -> BaseException:
    """The exception user code raised, under any wrapper the loader put around it."""
    *_, last = _chain(exc)
    return last


def _user_location(exc: BaseException, path: Path) -> tuple[str, int | None]:
    for err in _chain(exc):
        if isinstance(err, SyntaxError) and err.filename:
            return err.filename, err.lineno
    frames = [f for err in _chain(exc) for f in _frames(err.__traceback__)]
    in_file = [f for f in frames if _same_file(f[0], path)]
    if in_file:
        return in_file[-1]
    local = [f for f in frames if _is_local(f[0], _roots(path))]
    if local:
        return local[-1]
    file = getattr(exc, "file", None)
    line = getattr(exc, "line", None)
    return (str(file) if file else str(path)), (line if isinstance(line, int) else None)


def _frames(tb: TracebackType | None) -> list[tuple[str, int | None]]:
    return [(fs.filename, fs.lineno) for fs in traceback.extract_tb(tb)] if tb else []


def _same_file(name: str, path: Path) -> bool:
    return os.path.realpath(name) == os.path.realpath(path)


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)  # what the interpreter would print for sys.exit("message")
    return 1


def _roots(path: Path) -> tuple[str, ...]:
    dirs = {os.path.realpath(path.parent), os.path.realpath(os.getcwd())}
    return tuple(d.rstrip(os.sep) + os.sep for d in dirs)


def _is_local(name: str, roots: tuple[str, ...]) -> bool:
    """The user's own code, under the pipeline's folder or the working directory."""
    return is_user_file(name) and os.path.realpath(name).startswith(roots)


_INSTALLED = re.compile(r"[/\\](site|dist)-packages([/\\]|$)")


_IMPORTED_BEFORE_USER_CODE: frozenset[str] = frozenset()
"""What was imported before the pipeline file was loaded (the engine, a spare's libraries):
none of it is the user's, so `local_modules` need not look at it."""


def local_modules(path: Path) -> tuple[str, ...]:
    """Files of the user's own modules the pipeline imported: editing one should re-run it."""
    roots = _roots(path)
    own = os.path.realpath(path)
    found: set[str] = set()
    folders: dict[str, bool] = {}  # a warm worker holds ~1500 modules in ~150 folders
    before = _IMPORTED_BEFORE_USER_CODE
    for key, module in list(sys.modules.items()):
        if key in before:
            continue
        name: Any = getattr(module, "__file__", None)
        if not isinstance(name, str) or not name.endswith(".py"):
            continue
        folder = os.path.dirname(name)
        inside = folders.get(folder)
        if inside is None:
            installed = _INSTALLED.search(folder) is not None  # never the user's: origin.py
            inside = not installed and (os.path.realpath(folder) + os.sep).startswith(roots)
            folders[folder] = inside
        if inside and _is_local(name, roots):
            real = os.path.realpath(name)
            if real != own:
                found.add(real)
    return tuple(sorted(found))


def _finish(code: int) -> None:
    """Exit without waiting for threads user code left running; our events and the run record
    are already out (`run()` returns only once its record is on disk)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    _stop_descendants()
    os._exit(code)


if __name__ == "__main__":
    _finish(main())
