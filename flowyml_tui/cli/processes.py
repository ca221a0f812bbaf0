"""A headless run ends with its processes.

SIGTERM stops `flowyml-tui run` the way Ctrl-C does (its steps' processes killed, exit 143
instead of 130), and whatever the steps started, detached too (`start_new_session=True`, a
double fork), is ended when the run returns: on Linux this process is a child subreaper, so
orphans below it stay its descendants and are found by ancestry. A step declared with
`keep_children=True` is the exception: what appears while it runs is left running.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType

from ..engine.events import Event
from ..runner.kept import KeptChildren
from ..runner.proctree import Proc, become_subreaper, descendants, kill_tree, reap_children

REAP_SECONDS = 2.0


def _terminated(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C: cleanup runs, and the exit status is 128 + 15."""
    raise SystemExit(128 + signum)


class RunProcesses:
    """`with RunProcesses() as processes:` around a headless run; `processes.watch(...)` is
    an event sink that notes what `keep_children` steps start."""

    def __init__(self) -> None:
        self.kept = KeptChildren(())
        self._previous_handler: Callable[..., object] | int | None = None

    def __enter__(self) -> RunProcesses:
        become_subreaper()
        self._previous_handler = signal.signal(signal.SIGTERM, _terminated)
        return self

    def watch(self, keepers: Iterable[str]) -> Callable[[Event], None]:
        """An event sink for the run: `keepers` names the steps whose children are kept."""
        self.kept = KeptChildren(keepers)
        return self.kept.on_event

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
        spare = frozenset(self.kept.procs | _resource_tracker())
        kill_tree(os.getpid(), spare=spare)
        reap_children(REAP_SECONDS, spare=spare)


def _resource_tracker() -> set[Proc]:
    """multiprocessing's resource tracker, a child of ours: left alone, since this process
    still talks to it until it exits (it then exits by itself, on end of file)."""
    if "multiprocessing.resource_tracker" not in sys.modules:  # no pool: none was started
        return set()
    from multiprocessing import resource_tracker

    pid = resource_tracker._resource_tracker._pid  # no public accessor
    return {proc for proc in descendants(os.getpid()) if proc[0] == pid} if pid else set()
