"""Parent side of a run: start the worker, stream its messages, stop it, always reap it.

Each `run()` starts one child in its own process group with two extra pipes: the events channel
(JSON lines, read here) and a lifeline (the child exits when it breaks, so a dead parent never
leaves a pipeline running). Whatever happens, the child is waited for: no zombies.

Processes are started with `subprocess.Popen` (synchronous, a few ms) and watched with a pidfd,
not with `asyncio.create_subprocess_exec`: on Python 3.11 a task cancelled while that call is
connecting its pipes waits forever, and a save can cancel a run at any moment.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flowyml_tui.engine.events import Event, RunFinished, RunStarted, StepFinished, StepStarted
from flowyml_tui.runner.proctree import kill_tree
from flowyml_tui.runner.protocol import (
    EXIT_CHANNEL_LOST,
    ChildExited,
    ChildOutput,
    LoadFailed,
    ModulesImported,
    PipelinesFound,
    ProtocolError,
    RunCancelled,
    StepLogBatch,
    WarmedUp,
    WorkerExiting,
    decode_line,
    decode_message,
    is_log_batch,
)
from flowyml_tui.runner.stopped_record import STOPPED, StoppedRunRecord
from flowyml_tui.runner.warm import shadowed, top_level, write_list

RunMessage = (
    Event | PipelinesFound | LoadFailed | ChildOutput | ChildExited | RunCancelled | WarmedUp
)

_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent.parent)
_LINE_LIMIT = 64 * 1024 * 1024  # a StepFinished with a long diff is still one line
_STDERR_TAIL = 8000  # what ChildExited shows
_STDERR_KEPT = 64 * 1024  # chars kept to find the user's frame in a long crash dump
_EXIT_DRAIN_SECONDS = (
    2.0  # after the child exits, how long a stray holder of its pipes may delay us
)
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


class _Proc:
    """A child process whose exit the event loop learns about, and which it always reaps."""

    def __init__(self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._loop = loop
        self._exited: asyncio.Future[int] = loop.create_future()
        try:
            self._pidfd = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): a thread waits
            self._pidfd = -1
            threading.Thread(target=self._wait_in_thread, daemon=True).start()
        else:
            loop.add_reader(self._pidfd, self._reap)

    @property
    def returncode(self) -> int | None:
        """None until the child has exited and been reaped."""
        return self._exited.result() if self._exited.done() else None

    @property
    def exited(self) -> asyncio.Future[int]:
        """Done, with the return code, once the child is reaped; never cancel it."""
        return self._exited

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def _reap(self) -> None:
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._set_exited(self.popen.wait())  # the pidfd is readable: it has exited already

    def _wait_in_thread(self) -> None:
        code = self.popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits any more
            self._loop.call_soon_threadsafe(self._set_exited, code)

    def _set_exited(self, code: int) -> None:
        if not self._exited.done():
            self._exited.set_result(code)


class _Tail:
    """The last `limit` characters of a stream, however small the chunks it arrives in."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chunks: deque[str] = deque()
        self._size = 0

    def append(self, text: str) -> None:
        self._chunks.append(text)
        self._size += len(text)
        while self._size - len(self._chunks[0]) >= self._limit:
            self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        return "".join(self._chunks)[-self._limit :]


@dataclass
class _Run:
    """What one run knows about itself; kept apart so a new run never mixes with a draining one."""

    proc: _Proc
    events_fd: int = -1
    """The events channel's number in the child, to name it when a step closed it."""
    cancel_reason: str | None = None
    finished: bool = False
    load_failed: bool = False
    exit_notice: WorkerExiting | None = None
    imports: ModulesImported | None = None
    """The third-party modules the worker said it imported."""
    cache_dir: str | None = None
    """Where the run's cache is (its `RunStarted`): the next spare opens it while it waits."""
    current_step: str | None = None
    step_sources: dict[str, tuple[str | None, int | None]] = field(default_factory=dict)
    stderr_tail: _Tail = field(default_factory=lambda: _Tail(_STDERR_KEPT))
    record: StoppedRunRecord = field(default_factory=StoppedRunRecord)
    """What a stop (`s`) writes as the run's record: the worker never gets to write it."""

    def observe(self, message: RunMessage) -> None:
        self.record.observe(message)
        if isinstance(message, RunStarted):
            self.step_sources = {s.name: (s.source_file, s.source_line) for s in message.steps}
            self.cache_dir = message.cache_dir
        elif isinstance(message, StepStarted):
            self.current_step = message.step
        elif isinstance(message, StepFinished) and message.step == self.current_step:
            self.current_step = None
        elif isinstance(message, RunFinished):
            self.finished = True
        elif isinstance(message, LoadFailed):
            self.load_failed = True


@dataclass
class _Child:
    """A started worker; it imports the engine, then waits for the go byte on its lifeline."""

    proc: _Proc
    events_r: int
    stdout_r: int
    stderr_r: int
    life_w: int
    argv: tuple[str, ...]
    events_fd: int
    warm_packages: tuple[str, ...] = ()
    """The top-level packages it imports while it waits."""
    warmed: WarmedUp | None = None
    """What it said once its warm-up was done (read while it waits, see `listen`)."""
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    early: bytearray = field(default_factory=bytearray)
    """Bytes read from its events channel before its run: handed to the run's reader first."""
    _listening: asyncio.AbstractEventLoop | None = None

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read the spare's first message (`WarmedUp`) while it waits: the status line shows
        its memory before the save, and tests and benchmarks can wait for it."""
        loop.add_reader(self.events_r, self._read_early)
        self._listening = loop

    def stop_listening(self) -> None:
        if self._listening is not None:
            with contextlib.suppress(ValueError, OSError):
                self._listening.remove_reader(self.events_r)
            self._listening = None

    def _read_early(self) -> None:
        try:
            data = os.read(self.events_r, 65536)
        except OSError:
            data = b""
        self.early += data
        line, newline, _ = self.early.partition(b"\n")
        if data and not newline:
            return  # the rest of the line is on its way
        self.stop_listening()
        if newline:
            with contextlib.suppress(ProtocolError):
                message = decode_message(bytes(line))
                if isinstance(message, WarmedUp):
                    self.warmed = message
        self.ready.set()

    def close_fds(self) -> None:
        """Close what we still own (-1: closed, or handed to a transport); EOF stops a spare."""
        self.stop_listening()
        for name in ("events_r", "stdout_r", "stderr_r", "life_w"):
            fd = getattr(self, name)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
            setattr(self, name, -1)

    def __del__(self) -> None:  # a session dropped without aclose() must not keep a spare
        self.close_fds()


class RunSession:
    """Runs one pipeline file, one child process at a time.

    With `warm=True` (the default) a spare worker is started after each run: it has imported the
    engine and waits, so the next save only pays for importing the user's file. With
    `warm_imports=True` (the default) it also imports the third-party modules the last run
    imported (`runner/warm.py`). It imports no user code before it is told to go, so every run
    still loads the pipeline and the user's modules fresh.
    """

    def __init__(
        self,
        path: Path,
        *,
        pipeline: str | None = None,
        cache_dir: str | None = None,
        enable_cache: bool = True,
        python: str = sys.executable,
        cwd: Path | None = None,
        grace_seconds: float = 2.0,
        warm: bool = True,
        warm_imports: bool = True,
        context: Mapping[str, Any] | None = None,
        runner_args: tuple[str, ...] = (),
    ) -> None:
        """`runner_args` choose where steps run (`--jobs N`, `--dask ADDRESS`)."""
        self.approved: set[str] = set()
        """Approval steps approved for the next runs (`--approve NAME`)."""
        self.path = Path(path)
        self.runner_args = tuple(runner_args)
        self.context: dict[str, Any] = dict(context or {})
        """Run context values (`-c KEY=VALUE`); read at each run, so changing it re-parameterises
        the next run."""
        self.pipeline = pipeline
        self.cache_dir = cache_dir
        self.enable_cache = enable_cache
        self.python = python
        self.cwd = cwd
        self.grace_seconds = grace_seconds
        self.warm = warm
        self.warm_imports = warm_imports
        """The spare also imports the third-party modules the last run imported (`--no-warm`
        turns it off): a save then skips the libraries' import time too."""
        self._warm_modules: tuple[str, ...] = ()
        self._warm_versions: tuple[str, ...] = ()
        self._cache_dir: str | None = None
        """The last run's cache: the spare opens it while it waits (`--store-ahead`)."""
        self._current: _Run | None = None
        self._spare: _Child | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        """True while a child is alive (started and not yet reaped)."""
        return self._current is not None and self._current.proc.returncode is None

    @property
    def pid(self) -> int | None:
        """The current child's pid (also its process group id), for diagnostics and tests."""
        return self._current.proc.pid if self._current is not None else None

    def command(self) -> list[str]:
        """The worker command line without its descriptors; public so the CLI can show it."""
        cmd = [self.python, "-m", "flowyml_tui.runner.worker", str(self.path)]
        if self.pipeline is not None:
            cmd += ["--pipeline", self.pipeline]
        if self.cache_dir is not None:
            cmd += ["--cache-dir", str(self.cache_dir)]
        if not self.enable_cache:
            cmd.append("--no-cache")
        if self.context:
            cmd += ["--context-json", json.dumps(self.context, sort_keys=True)]
        for name in sorted(self.approved):
            cmd += ["--approve", name]
        return cmd + list(self.runner_args)

    async def run(self, *, batched_logs: bool = False) -> AsyncIterator[RunMessage]:
        """Start one child and yield its messages as they arrive.

        The last message is `RunFinished`, `LoadFailed`, `ChildExited` or `RunCancelled`; by then
        the child has been reaped. Leaving the loop early stops the child. With `batched_logs`
        the `StepLog`s the worker sent together come as one `StepLogBatch`, in their place.
        """
        if self._closed:
            raise RuntimeError("this RunSession is closed; create a new one to run again")
        if self.running:
            raise RuntimeError(
                "a run is already in progress; await cancel() before starting another"
            )
        child = self._start()  # synchronous: nothing can cancel us half-way through a spawn
        child.stop_listening()
        run = self._current = _Run(child.proc, child.events_fd)
        proc = child.proc
        queue: asyncio.Queue[RunMessage | None] = asyncio.Queue()
        transports: list[asyncio.BaseTransport] = []
        readers: list[asyncio.Task[None]] = []
        try:
            for name in ("events_r", "stdout_r", "stderr_r"):
                fd = getattr(child, name)
                setattr(child, name, -1)  # _open_reader owns it from here, even if cancelled
                early = bytes(child.early) if name == "events_r" else b""
                transport, reader = await _open_reader(fd, early)
                transports.append(transport)
                if name == "events_r":
                    readers.append(asyncio.create_task(_read_events(reader, queue)))
                else:
                    stream = name.removesuffix("_r")
                    tail = run.stderr_tail if stream == "stderr" else None
                    readers.append(asyncio.create_task(_read_output(reader, stream, queue, tail)))
            exited = proc.exited
            open_channels = len(readers)
            drain_deadline: float | None = None
            loop = asyncio.get_running_loop()
            while open_channels:
                if exited.done() and drain_deadline is None:
                    _signal_group(proc.pid, signal.SIGKILL)  # strays would hold the pipes open
                    drain_deadline = loop.time() + _EXIT_DRAIN_SECONDS
                item = await _next(queue, exited, drain_deadline, loop)
                if item is _TIMEOUT:
                    break
                if item is _WAKE:
                    continue
                if item is None:
                    open_channels -= 1
                    continue
                if isinstance(item, WorkerExiting):
                    run.exit_notice = item
                    continue
                if isinstance(item, ModulesImported):
                    run.imports = item
                    continue
                if isinstance(item, StepLogBatch):
                    if batched_logs:
                        yield item  # type: ignore[misc]
                    else:
                        for log in item.logs:
                            yield log
                    continue
                run.observe(item)  # type: ignore[arg-type]
                yield item  # type: ignore[misc]
            returncode = await proc.wait()
            final = self._final_message(run, returncode)
            if final is not None:
                yield final
            self._remember_imports(run)
            self._cache_dir = run.cache_dir or self._cache_dir
            if self.warm and not self._closed and self._spare is None:
                self._spare = self._spawn()  # the next save skips Python and engine start-up
                if self._spare.warm_packages:
                    self._spare.listen(asyncio.get_running_loop())
        finally:
            if proc.returncode is None:  # the consumer left early or was cancelled
                _stop_tree(proc.pid)
                _signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(asyncio.CancelledError):
                    await proc.wait()
            for task in readers:
                task.cancel()
            for transport in transports:
                transport.close()
            child.close_fds()
            if self._current is run:
                self._current = None

    @property
    def spare_warmed(self) -> WarmedUp | None:
        """What the waiting spare worker has imported, and its memory; None before it is done
        (or without a spare, or with nothing to import)."""
        return self._spare.warmed if self._spare is not None else None

    async def spare_ready(self) -> WarmedUp | None:
        """Wait until the spare worker has finished importing the last run's libraries."""
        spare = self._spare
        if spare is None or not spare.warm_packages:
            return None
        await spare.ready.wait()
        return spare.warmed

    async def cancel(self, reason: str = "cancelled") -> None:
        """Stop the running child and everything it started (its process group, and what left
        the group: a new session, a daemon): SIGTERM, then SIGKILL after the grace."""
        run = self._current
        if run is None or run.proc.returncode is not None:
            return
        if run.cancel_reason is None:
            run.cancel_reason = reason
        _stop_tree(run.proc.pid)
        _signal_group(run.proc.pid, signal.SIGTERM)
        _signal_group(run.proc.pid, signal.SIGCONT)  # the SIGTERM lands as it wakes
        try:
            await asyncio.wait_for(run.proc.wait(), self.grace_seconds)
        except TimeoutError:
            _signal_group(run.proc.pid, signal.SIGKILL)
            await run.proc.wait()

    async def stop(self) -> None:
        """The user's "stop": end the run now; steps that finished stay cached."""
        await self.cancel(STOPPED)

    async def aclose(self) -> None:
        """Stop whatever runs, drop the spare worker, refuse new runs; safe to call twice."""
        self._closed = True
        await self.cancel("session closed")
        spare, self._spare = self._spare, None
        if spare is not None:
            await _discard(spare)

    def _remember_imports(self, run: _Run) -> None:
        """A finished run's imports are the next spare's list; a run that stopped early
        (a cancel, a load error) adds its imports to the list it had, since it saw less."""
        imports = run.imports
        if imports is None:
            return
        if run.finished:
            self._warm_modules, self._warm_versions = imports.modules, imports.versions
        else:
            self._warm_modules = tuple(dict.fromkeys((*self._warm_modules, *imports.modules)))
            self._warm_versions = tuple(sorted({*self._warm_versions, *imports.versions}))

    def _warm_list(self) -> tuple[list[str], IO[bytes] | None, tuple[str, ...]]:
        """What a new worker is told about warming up: its arguments, the file that lists the
        modules (unlinked already: nothing is left behind however the session ends), and the
        packages it will import."""
        if not self.warm_imports:
            return [], None, ()
        if not self._warm_modules:
            return ["--report-imports"], None, ()
        listing = tempfile.TemporaryFile()  # noqa: SIM115  (_spawn closes it)
        listing.write(write_list(self._warm_modules, self._warm_versions))
        listing.flush()
        listing.seek(0)
        args = ["--report-imports", "--warm-fd", str(listing.fileno())]
        return args, listing, top_level(self._warm_modules)

    def _project_folders(self) -> tuple[str, ...]:
        """Where the worker finds the user's modules: the pipeline's folder and its cwd."""
        return (str(self.path.resolve().parent), str(self.cwd or os.getcwd()))

    def _start(self) -> _Child:
        """The spare if it still fits the settings, else a new child; either way, told to go."""
        spare, self._spare = self._spare, None
        if spare is not None:
            if (
                spare.proc.returncode is None
                and spare.argv == tuple(self.command())
                and not shadowed(spare.warm_packages, self._project_folders())
            ):  # a project file named like a warmed library: that run must import the file
                try:
                    os.write(spare.life_w, b"g")
                    return spare
                except OSError:  # it died just now
                    pass
            spare.close_fds()
            _signal_group(spare.proc.pid, signal.SIGKILL)  # reaped by its pidfd reader
        child = self._spawn()
        os.write(child.life_w, b"g")
        return child

    def _spawn(self) -> _Child:
        loop = asyncio.get_running_loop()
        events_r, events_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        life_r, life_w = os.pipe()
        argv = self.command()
        fds = ["--events-fd", str(events_w), "--lifeline-fd", str(life_r), "--wait-for-go"]
        warm, listing, packages = self._warm_list()
        if self._cache_dir is not None and self.enable_cache:
            warm += ["--store-ahead", self._cache_dir]
        passed = (events_w, life_r) if listing is None else (events_w, life_r, listing.fileno())
        try:
            popen = subprocess.Popen(
                [*argv, *fds, *warm],
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                pass_fds=passed,
                start_new_session=True,
                cwd=self.cwd,
                env=_child_env(),
            )
        except BaseException:
            for fd in (events_r, out_r, err_r, life_w):
                os.close(fd)
            raise
        finally:
            for fd in (events_w, out_w, err_w, life_r):
                os.close(fd)
            if listing is not None:
                listing.close()  # the child has its own descriptor
        return _Child(
            _Proc(popen, loop), events_r, out_r, err_r, life_w, tuple(argv), events_w, packages
        )

    def _final_message(self, run: _Run, returncode: int) -> RunMessage | None:
        if run.finished or run.load_failed:
            return None
        if run.cancel_reason is not None:
            if run.cancel_reason == STOPPED:  # the past runs and the averages count it
                run.record.write()
            return RunCancelled(run.cancel_reason)
        return _child_exited(run, returncode, self.path)


async def _discard(child: _Child) -> None:
    """Stop an unused worker: closing its lifeline is enough, the kill makes sure; then reap."""
    child.close_fds()
    _signal_group(child.proc.pid, signal.SIGKILL)
    await child.proc.wait()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if _PACKAGE_PARENT not in paths:  # works whether or not flowyml-tui is installed
        paths.insert(0, _PACKAGE_PARENT)
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"  # import-time prints arrive as they happen
    return env


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop_tree(pid: int) -> None:
    """Freeze the worker, then kill what it started, before the worker can die: its orphans
    would go to init, out of our reach. The worker itself is left stopped for the caller."""
    _signal_group(pid, signal.SIGSTOP)
    kill_tree(pid)


async def _open_reader(
    fd: int, early: bytes = b""
) -> tuple[asyncio.BaseTransport, asyncio.StreamReader]:
    """A reader of the pipe `fd`, which gives `early` (read from it before) first."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    if early:
        reader.feed_data(early)
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return transport, reader


async def _read_events(reader: asyncio.StreamReader, queue: asyncio.Queue) -> None:
    try:
        while line := await reader.readline():
            try:
                messages = decode_line(line)
                if is_log_batch(line):  # one queue item for the lot: see StepLogBatch
                    queue.put_nowait(StepLogBatch(tuple(messages)))  # type: ignore[arg-type]
                else:
                    for message in messages:
                        queue.put_nowait(message)
            except ProtocolError as exc:
                queue.put_nowait(ChildOutput(f"flowyml: {exc}\n", "stderr"))
    except ValueError:  # one line over the limit: the channel cannot be trusted any more
        queue.put_nowait(ChildOutput("flowyml: oversized line on the events channel\n", "stderr"))
    finally:
        queue.put_nowait(None)


async def _read_output(
    stream: asyncio.StreamReader, name: str, queue: asyncio.Queue, tail: _Tail | None
) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        while chunk := await stream.read(65536):
            text = decoder.decode(chunk)
            if text:
                if tail is not None:
                    tail.append(text)
                queue.put_nowait(ChildOutput(text, name))
    finally:
        queue.put_nowait(None)


_TIMEOUT = object()
_WAKE = object()


async def _next(
    queue: asyncio.Queue,
    exited: asyncio.Future[int],
    deadline: float | None,
    loop: asyncio.AbstractEventLoop,
) -> object:
    """The next queued item; wakes up when the child exits, gives up at the drain deadline."""
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    try:
        if deadline is not None:
            done, _ = await asyncio.wait({getter}, timeout=max(0.0, deadline - loop.time()))
        else:
            done, _ = await asyncio.wait({getter, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getter.done():
            getter.cancel()
    if getter in done:
        return getter.result()
    return _TIMEOUT if deadline is not None else _WAKE


def _child_exited(run: _Run, returncode: int, path: Path) -> ChildExited:
    kept = run.stderr_tail.text()
    tail = kept[-_STDERR_TAIL:]
    step = run.current_step
    notice = run.exit_notice
    sig = _signal_name(returncode)
    if notice is not None:
        message, file, line = notice.message, notice.file, notice.line
        step = notice.step or step
    else:
        where = f" while step {step!r} was running" if step else " before the run finished"
        if returncode == EXIT_CHANNEL_LOST:
            message = (
                f"the worker closed its event channel (fd {run.events_fd}){where}: "
                "a step closed a file descriptor it did not own?"
            )
        elif sig is not None:
            message = f"the worker was killed by {sig} ({signal.strsignal(-returncode)}){where}"
        else:
            message = f"the worker exited with code {returncode}{where}"
            if returncode != 0:
                message += " (os._exit, or a crash in native code?)"
        file, line = _frame_in_tail(kept, path)
        if file is None and step is not None:
            file, line = run.step_sources.get(step, (None, None))
    return ChildExited(returncode, sig, tail, message, file, line, step)


def _signal_name(returncode: int) -> str | None:
    if returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _frame_in_tail(tail: str, path: Path) -> tuple[str | None, int | None]:
    """The user's frame in a traceback or faulthandler dump left on stderr, if any."""
    frames = [(m["file"], int(m["line"])) for m in _FRAME.finditer(tail)]
    if "most recent call first" in tail:  # faulthandler: innermost frame first
        frames.reverse()
    real = os.path.realpath(path)
    mine = [f for f in frames if os.path.realpath(f[0]) == real]
    return mine[-1] if mine else (None, None)
