"""A private on-disk cache of what is derived from source bytes: compiled code, digest indexes.

CPython's .pyc files are trusted when the source's mtime and size match, so an edit that keeps
the size within a second of the last import would run stale code. Here every blob is named by
a hash of the bytes it was derived from, so a lookup can never return another version's result,
and it carries a checksum of its own payload, so a torn or damaged file is a miss. The folder
is created 0700 and used only while it is a real directory of this user that nobody else can
write to; otherwise nothing is read or written and everything is derived again.

`FLOWYML_TUI_CODE_CACHE` names the folder (`off` turns the cache off); the default is
`$XDG_CACHE_HOME/flowyml-tui/code` (`~/.cache/flowyml-tui/code`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys

from xxhash import xxh3_128, xxh3_128_digest

__all__ = ["cache_folder", "load", "source_key", "store"]

_MAGIC = b"flowyml-tui code cache 1\n"
_DIGEST_SIZE = 16
_FOLDER: list[str | None] = []  # memo of cache_folder(): one check per process and setting
_FOLDER_SETTING: list[str | None] = []


def source_key(data: bytes, *extra: str) -> str:
    """A blob key for what `data` (source bytes) compiles or parses to under this interpreter.

    The interpreter's cache tag is part of it: bytecode and AST shapes change between versions.
    """
    h = xxh3_128(data)
    for part in (sys.implementation.cache_tag or "none", *extra):
        h.update(b"\x00" + part.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def cache_folder() -> str | None:
    """The private cache folder, created if missing; None when it is off or not safe to use."""
    setting = os.environ.get("FLOWYML_TUI_CODE_CACHE")
    if _FOLDER and _FOLDER_SETTING[0] == setting:
        return _FOLDER[0]
    folder = _private_folder(setting)
    _FOLDER[:] = [folder]
    _FOLDER_SETTING[:] = [setting]
    return folder


def _private_folder(setting: str | None) -> str | None:
    if setting is not None and setting.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    if setting:
        folder = os.path.expanduser(setting)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "flowyml-tui", "code")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):  # a symlink or a file: not ours to trust
        return None
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return None
    if info.st_mode & 0o077:
        return None  # others could plant or read code here
    return folder


def load(kind: str, key: str) -> bytes | None:
    """The payload stored under (kind, key), or None if missing, damaged or not for this key."""
    folder = cache_folder()
    if folder is None:
        return None
    try:  # no symlink followed, and only a file that is ours and private is read
        fd = os.open(os.path.join(folder, f"{kind}-{key}"), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if info.st_uid != os.getuid() or info.st_mode & 0o077 or not stat.S_ISREG(info.st_mode):
            return None
        blob = fh.read()
    header = _MAGIC + key.encode()
    start = len(header) + _DIGEST_SIZE
    if not blob.startswith(header) or len(blob) < start:
        return None
    payload = blob[start:]
    if xxh3_128_digest(header + payload) != blob[len(header) : start]:
        return None
    return payload


def store(kind: str, key: str, payload: bytes) -> None:
    """Write a payload atomically (a temp file renamed over); failures only cost a re-derive."""
    folder = cache_folder()
    if folder is None:
        return
    header = _MAGIC + key.encode()
    blob = header + xxh3_128_digest(header + payload) + payload
    final = os.path.join(folder, f"{kind}-{key}")
    temp = f"{final}.{os.getpid()}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temp, final)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
