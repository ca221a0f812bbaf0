"""Which files to watch, and one change set per burst of saves.

Only the directories that hold a relevant file are watched, each non-recursively: a project's
`.venv` or cache dir never gets an inotify watch, and writes there can never trigger a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

from watchfiles import awatch

from flowyml_tui.engine.compat.discovery import looks_like_pipeline
from flowyml_tui.engine.errors import FlowymlError

DEFAULT_IGNORE_DIRS = (".flowyml", ".venv", "venv", "__pycache__", ".git", ".mypy_cache")
_MAX_BURST_MS = 1600  # a never-ending stream of writes still yields this often
STEP_MS = 2
"""How often the watch thread looks for events: a save is reported 2-4 ms after its first
event (watchfiles returns once a look finds nothing new). At 50 ms a save waited 50-100 ms,
most of the stdlib quickstart's save -> running time; at 5 ms, 5-10 ms. Each look takes the
GIL: the idle workbench uses 3.1% of a core at 2 ms against 2.5% at 5 ms (5.4% at 1 ms)."""
_POLL_EXTRA_MS = 300  # how soon a newly reported local module in a new folder is watched


class PipelineDiscoveryError(FlowymlError):
    """No pipeline file where the user pointed (or nowhere obvious when they pointed nowhere)."""


def discover_pipeline_files(args: list[Path]) -> list[Path]:
    """Resolve FILE_OR_DIR arguments into pipeline files.

    No argument: the ``*.py`` files in the current directory that define a Pipeline, else those
    in ``pipelines/``. A directory contributes its ``*.py`` files that mention ``Pipeline(``,
    ``Pipeline.from_steps(`` or ``def create_pipeline(`` (flowyml's ways).
    """
    if not args:
        found = _pipeline_files_in(Path.cwd()) or _pipeline_files_in(Path.cwd() / "pipelines")
        if not found:
            raise PipelineDiscoveryError(
                f"no pipeline file in {Path.cwd()} or {Path.cwd() / 'pipelines'}: "
                "pass a file or directory (flowyml-tui my_pipeline.py), or create a .py file "
                'that builds a Pipeline, e.g. pipeline = Pipeline("etl").add_step(load)'
            )
        return found
    files: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = _pipeline_files_in(path)
            if not found:
                raise PipelineDiscoveryError(
                    f"{path} holds no .py file that defines a Pipeline (looked for 'Pipeline(')"
                )
            files.extend(found)
        elif path.is_file():
            if path.suffix != ".py":
                raise PipelineDiscoveryError(
                    f"{path} is not a Python file: pass a .py pipeline file"
                )
            files.append(path.resolve())
        else:
            raise PipelineDiscoveryError(
                f"{path} does not exist: pass a pipeline file or directory"
            )
    return list(dict.fromkeys(files))


def _pipeline_files_in(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if looks_like_pipeline(text):
            found.append(path.resolve())
    return found


async def watch_pipeline_files(
    paths: Iterable[Path],
    *,
    extra: Callable[[], Iterable[Path]] = tuple,
    ignore_dirs: Iterable[str | Path] = DEFAULT_IGNORE_DIRS,
    step_ms: int = STEP_MS,
    stop_event: asyncio.Event | None = None,
) -> AsyncIterator[set[Path]]:
    """Yield the set of changed relevant files, once per burst of saves.

    Relevant: `paths` plus whatever `extra()` returns (the local modules the worker reported,
    the files and folders the steps read), re-read after every change so a newly imported
    helper is watched from the next save on. For a folder, a file added, removed or renamed
    in it counts as a change of the folder.
    `ignore_dirs` holds directory names (``.venv``) or paths (the cache dir). A burst is events
    less than `step_ms` apart; the events an editor's save makes after the one reported (a
    rename, a chmod, a late close) are dropped when the file reads as it did when reported,
    so one save is one run and the spare worker is not spent on a restart.
    """
    pipeline_files = [_real(p) for p in paths]
    names, ignored_paths = _split_ignores(ignore_dirs)

    def relevant_now() -> set[Path]:
        found = set(pipeline_files) | {_real(Path(p)) for p in extra()}
        return {p for p in found if not _ignored(p, names, ignored_paths)}

    seen: dict[Path, int | None] = {}  # mtime when a file became relevant or last yielded
    reported: dict[Path, _Signature] = {}  # how each file read when last yielded
    relevant = relevant_now()
    while stop_event is None or not stop_event.is_set():
        for path in relevant:
            seen.setdefault(path, _mtime(path))
        roots = _roots(relevant)
        if not roots:
            raise PipelineDiscoveryError("nothing to watch: the pipeline files' folders are gone")
        changes = awatch(
            *roots,
            watch_filter=None,
            debounce=max(_MAX_BURST_MS, step_ms),
            step=step_ms,
            stop_event=_Stop(stop_event),
            rust_timeout=_POLL_EXTRA_MS,
            yield_on_timeout=True,  # a quiet tick to re-read extra()
            recursive=False,
        )
        restart = False
        async with contextlib.aclosing(changes):
            async for raw in changes:
                changed = {_real(Path(name)) for _, name in raw}
                # What is relevant as of this save: a file a run has just read becomes
                # relevant at once, not at the next quiet tick (up to _POLL_EXTRA_MS later, a
                # save in between was dropped).
                relevant = relevant_now()
                hits = (changed & relevant) | {p.parent for p in changed if p.parent in relevant}
                hits = {p for p in hits if p.is_dir() or reported.get(p) != _signature(p)}
                if hits:
                    for path in hits:
                        seen[path] = _mtime(path)
                        reported[path] = _signature(path)
                    yield hits
                relevant = relevant_now()
                if _roots(relevant) != roots:
                    restart = True  # a helper in a folder we do not watch yet
                    break
        if not restart:
            return
        # Saves made while that folder was not watched yet still count.
        missed = {p for p in relevant if p in seen and _mtime(p) != seen[p]}
        if missed:
            for path in missed:
                seen[path] = _mtime(path)
            yield missed


def _roots(files: Iterable[Path]) -> list[Path]:
    """The folders to watch: each file's folder, and each relevant folder itself."""
    roots = set()
    for path in files:
        if path.is_dir():
            roots.add(path)
        if path.parent.is_dir():
            roots.add(path.parent)
    return sorted(roots)


_Signature = tuple[int, int, int, bytes] | None
_DIGEST_BYTES = 1 << 20
"""Files up to this size are compared by content: two saves within one clock tick of the
filesystem can share an mtime and a size."""


def _signature(path: Path) -> _Signature:
    """How a file reads: a save changes it, a chmod or a second event of one save does not."""
    try:
        st = path.stat()
        digest = b""
        if st.st_size <= _DIGEST_BYTES:
            digest = hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns if not digest else 0, digest)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class _Stop:
    """The caller's stop event, or one that never fires: what the watch thread polls."""

    def __init__(self, outer: asyncio.Event | None) -> None:
        self._outer = outer

    def is_set(self) -> bool:
        return self._outer is not None and self._outer.is_set()

    async def wait(self) -> None:
        while not self.is_set():
            await asyncio.sleep(0.05)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _split_ignores(ignore_dirs: Iterable[str | Path]) -> tuple[set[str], list[Path]]:
    names: set[str] = set()
    paths: list[Path] = []
    for item in ignore_dirs:
        text = str(item)
        if os.sep in text or isinstance(item, Path):
            paths.append(_real(Path(text)))
        else:
            names.add(text)
    return names, paths


def _ignored(path: Path, names: set[str], paths: list[Path]) -> bool:
    if any(part in names for part in path.parent.parts):
        return True
    return any(path.is_relative_to(p) for p in paths)
