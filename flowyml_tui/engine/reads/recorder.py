"""Record what a running step opens for reading, lists, and connects to, through Python's
audit hooks (PEP 578).

One hook is installed per process, the first time a step is recorded, and it stays: audit
hooks cannot be removed. It does nothing unless the current context carries a `Recording`,
which `recording()` sets around one step's call; a fully cached run never installs it. An
event is attributed to the step whose context it fires in: the step's own thread, its async
tasks, and threads it starts through `contextvars.copy_context().run`.

Not recorded: write-only opens, files the step wrote before reading them (its scratch files),
modules (anything the import system opens or lists), the interpreter's prefixes (stdlib and
site-packages), the excluded roots (the cache dir), `/proc`, `/dev` and `/sys`.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FILE, FOLDER, SQLITE = "file", "folder", "sqlite"

_SYSTEM_ROOTS = ("/proc/", "/dev/", "/sys/")
_MODULE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyd", ".so", ".pth")
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

Signature = tuple[int, int, int, int]
"""(size, mtime_ns, ctime_ns, inode): what a `stat` says of a file without reading it."""


def signature(path: str) -> Signature | None:
    """The stat signature of `path`, or None if there is nothing there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class Recording:
    """What one step read, in the order it first read each path, with the signature the
    path had just before that first read (None: it did not exist)."""

    __slots__ = ("excluded", "reads", "written")

    def __init__(self, excluded: tuple[str, ...]) -> None:
        self.excluded = excluded
        self.reads: dict[str, tuple[str, Signature | None]] = {}
        """path -> (kind, signature before the first read)"""
        self.written: set[str] = set()

    def opened(self, path: str, reads: bool, writes: bool) -> None:
        if (
            reads
            and path not in self.reads
            and path not in self.written
            and not path.endswith(_MODULE_SUFFIXES)
            and not path.startswith(self.excluded)
        ):
            self.reads[path] = (FILE, signature(path))
        if writes:
            self.written.add(path)

    def listed(self, path: str) -> None:
        if path in self.reads or path.startswith(self.excluded):
            return
        self.reads[path] = (FOLDER, signature(path))

    def connected(self, path: str) -> None:
        if path in self.reads or path in self.written or path.startswith(self.excluded):
            return
        self.reads[path] = (SQLITE, signature(path))


_current: ContextVar[Recording | None] = ContextVar("flowyml_tui_reads", default=None)
_installed = False


@functools.cache
def _interpreter_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            roots.add(path)
    return _both_forms(r for r in roots if r)


def _both_forms(paths: Iterable[str]) -> tuple[str, ...]:
    """Each path as written and resolved, with a trailing separator: events carry absolute,
    unresolved paths, and a root may be reached through a symlink either way."""
    found: dict[str, None] = {}
    for path in paths:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            found[os.path.join(form, "")] = None
    return tuple(found)


@functools.lru_cache(maxsize=64)
def _excluded_roots(excluded: tuple[str, ...]) -> tuple[str, ...]:
    """What a step's reads never include: the cache dir (as written and resolved), the
    interpreter's and the system's files. Worked out once per cache dir: resolving it was
    three `lstat`s for every step that ran."""
    return _both_forms(excluded) + _interpreter_roots() + _SYSTEM_ROOTS


def _path_of(raw: object) -> str | None:
    if isinstance(raw, int) or raw is None:
        return None
    try:
        path = os.fsdecode(raw)  # str, bytes or os.PathLike
    except TypeError:
        return None
    return os.path.abspath(path) if path else None


def _from_import_system() -> bool:
    """True when the event comes from importlib (finding or loading a module)."""
    frame = sys._getframe(2)
    return frame is not None and frame.f_code.co_filename.startswith("<frozen importlib")


def _hook(event: str, args: tuple[object, ...]) -> None:
    recording = _current.get()
    if recording is None:
        return
    if event == "open":
        path = _path_of(args[0])
        if path is None:
            return
        mode = args[1]
        if isinstance(mode, str):  # open(), io.open, pathlib: a mode string
            writes = any(c in mode for c in "wax+")
            reads = "r" in mode or "+" in mode
        else:  # os.open: flags
            flags = args[2] if isinstance(args[2], int) else 0
            access = flags & os.O_ACCMODE
            writes = access != os.O_RDONLY or bool(flags & _WRITE)
            reads = access != os.O_WRONLY
        recording.opened(path, reads, writes)
    elif event in ("os.listdir", "os.scandir"):
        if _from_import_system():
            return
        raw = args[0]
        path = _path_of(raw if raw is not None else ".")
        if path is not None:
            recording.listed(path)
    elif event == "sqlite3.connect":
        path = _database_path(args[0])
        if path is not None:
            recording.connected(path)


def _database_path(raw: object) -> str | None:
    """The file behind a `sqlite3.connect` argument; None for an in-memory database."""
    if isinstance(raw, int) or raw is None:
        return None
    text = os.fsdecode(raw)  # type: ignore[arg-type]
    if text.startswith("file:"):  # a URI: file:path?mode=ro
        text = text[5:].split("?", 1)[0]
    if text in ("", ":memory:") or "mode=memory" in text:
        return None
    return _path_of(text)


@contextmanager
def recording(excluded: tuple[str, ...] = ()) -> Iterator[Recording]:
    """Record the reads made in this context until the block ends."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    current = Recording(_excluded_roots(excluded))
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)
