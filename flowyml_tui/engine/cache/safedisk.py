"""`SafeDisk`: diskcache's serialisation layer without pickle, in either direction.

diskcache decodes a row by its `mode` column: a row in its pickle mode (or a pickled key) is
unpickled on read, whoever wrote it. The store never needs that: keys are str and values are
bytes, str, int or float. So writing anything else is a TypeError here, and a row or key in
pickle mode is never decoded: it reads as absent, with a warning. Value files are opened
without following symlinks and checked (ours, not writable by others) before they are read.
Our own value pickles are unpickled only by the store, after their checksum matched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import diskcache
from diskcache.core import MODE_BINARY, MODE_RAW, MODE_TEXT

from ..errors import CacheError
from .private import check_private

_VALUE_FILE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{28}\.val")
_INT64 = (-(2**63), 2**63 - 1)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class CacheSafetyWarning(UserWarning):
    """Something in the cache dir was refused (not ours, or in a form we never write)."""


class RefusedRow(OSError):
    """A row or file the store will not decode; an OSError so diskcache reads it as absent."""


UNREADABLE_KEY = object()
"""What iteration yields for a key diskcache stored pickled: never a str, so never matched."""


class SafeDisk(diskcache.Disk):
    """A `diskcache.Disk` that stores only str keys and bytes/str/int/float values, raw."""

    def __init__(self, directory: str, min_file_size: int = 0, pickle_protocol: int = 0) -> None:
        super().__init__(directory, min_file_size=min_file_size, pickle_protocol=pickle_protocol)
        self._warned: set[str] = set()

    # -- keys ------------------------------------------------------------------------------

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys are str, got {type(key).__name__}")
        return key, True

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:  # a pickled key: flowyml-tui never writes one
            self._warn("a key stored in pickle form")
            return UNREADABLE_KEY
        return bytes(key) if type(key) is sqlite3.Binary else key

    # -- values ----------------------------------------------------------------------------

    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> tuple[Any, ...]:
        kind = type(value)
        if read or kind not in (bytes, str, int, float):
            raise TypeError(
                f"the store writes bytes, str, int or float, not {kind.__name__} "
                "(pickle values yourself, with a checksum)"
            )
        if kind is int and not _INT64[0] <= value <= _INT64[1]:
            raise TypeError("the store writes ints that fit in 64 bits")
        if kind in (int, float):
            return 0, MODE_RAW, None, value
        data = value if kind is bytes else value.encode("utf-8")
        if len(data) < self.min_file_size:
            return 0, MODE_RAW, None, sqlite3.Binary(value) if kind is bytes else value
        filename, full_path = self.filename(key, value)
        self._write_private(full_path, data)
        return len(data), MODE_BINARY if kind is bytes else MODE_TEXT, filename, None

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == MODE_RAW and not read:
            return bytes(value) if type(value) is sqlite3.Binary else value
        if mode in (MODE_BINARY, MODE_TEXT) and not read and filename:
            data = self._read_private(filename)
            if mode == MODE_BINARY:
                return data
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                self._warn(f"a text value file {filename} that is not UTF-8")
                raise RefusedRow(errno.EINVAL, "not UTF-8") from None
        self._warn(f"a row in diskcache's mode {mode} (pickle or unknown)")
        raise RefusedRow(errno.EINVAL, f"row in mode {mode} refused")

    # -- value files -----------------------------------------------------------------------

    def _write_private(self, full_path: str, data: bytes) -> None:
        """Write a new value file 0600 in 0700 subdirs; never leave a partial one behind."""
        top = self._directory
        first, second, _ = os.path.relpath(full_path, top).split(os.sep)
        for sub in (os.path.join(top, first), os.path.join(top, first, second)):
            with contextlib.suppress(FileExistsError):
                os.mkdir(sub, 0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        fd = os.open(full_path, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(full_path)
            raise

    def _read_private(self, filename: str) -> bytes:
        """The bytes of a value file, after checking it and its two subdirs are private."""
        if not _VALUE_FILE.fullmatch(filename.replace(os.sep, "/")):
            self._warn(f"a row pointing at {filename!r}, outside the store's value files")
            raise RefusedRow(errno.EINVAL, "not a value file name")
        path = Path(self._directory, filename)
        try:
            for parent in (path.parent.parent, path.parent):
                check_private(parent, os.lstat(parent), "cache value dir", is_dir=True)
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
        except FileNotFoundError:
            raise  # deleted by another process meanwhile: diskcache reads it as absent
        except CacheError as exc:
            self._warn(str(exc), detail=True)
            raise RefusedRow(errno.EPERM, str(exc)) from None
        except OSError as exc:  # ELOOP: the file itself is a symlink
            self._warn(f"a value file {path} that cannot be opened safely ({exc.strerror})")
            raise RefusedRow(errno.EPERM, str(exc)) from None
        with os.fdopen(fd, "rb") as handle:
            try:
                check_private(path, os.fstat(handle.fileno()), "cache value file", is_dir=False)
            except CacheError as exc:
                self._warn(str(exc), detail=True)
                raise RefusedRow(errno.EPERM, str(exc)) from None
            return handle.read()

    def _warn(self, what: str, *, detail: bool = False) -> None:
        """Warn once per kind of refusal: a planted row is news, the hundredth copy is not."""
        if what in self._warned:
            return
        self._warned.add(what)
        message = (
            f"{what}: ignored"
            if detail
            else f"the cache at {self._directory} holds {what}, "
            "which flowyml-tui never writes: ignored, not unpickled"
        )
        warnings.warn(
            f"{message} (its step runs again; `flowyml-tui cache clear` removes it)",
            CacheSafetyWarning,
            stacklevel=4,
        )
