"""What a spare worker imports while it waits: the libraries the last run imported.

A run of a pandas + scikit-learn pipeline spends about a second importing those libraries;
the spare pays that before the save instead. Only code from outside the project is imported
ahead (site-packages, the engine itself, the standard library): never the user's own modules,
which each run imports fresh, so code identity and results are what a cold worker gives. A
library that fails to import here is left for the run to import, as it would have without
the spare. Standard library only: this is on the worker's start-up path.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import os
import sys
import threading
from collections.abc import Iterable
from typing import Any

_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep
"""flowyml_tui itself: the tool, never the user's code, even when run from its own checkout."""


_NEVER_AHEAD = frozenset({"this", "antigravity"})
"""Standard modules whose import does something a user sees (prints, opens a browser)."""


def modules_to_warm(roots: Iterable[str]) -> tuple[str, ...]:
    """The modules imported so far whose package lives outside the project (`roots`):
    installed libraries, the engine, and the standard library's modules (a pipeline's
    `import statistics` costs 7 ms, as much as the rest of loading its file), in the order
    they were imported.

    Decided per top-level package, from where its first module with a file lives: a
    package's submodules live beside it. A project file named like a standard module is the
    user's own code: the import found it first.
    """
    from flowyml_tui.engine.hashing.origin import kind_of_path

    kinds: dict[str, bool] = {}
    stdlib = sys.stdlib_module_names
    homes = tuple(os.path.realpath(r).rstrip(os.sep) + os.sep for r in roots)
    found: list[str] = []
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        if top.startswith("__") or top in _NEVER_AHEAD:
            continue
        wanted = kinds.get(top)
        if wanted is None:
            file: Any = getattr(module, "__file__", None)
            if not isinstance(file, str):
                continue  # built in, or a namespace package (decided by a submodule's file)
            wanted = kinds[top] = _from_outside(kind_of_path(file), file, homes, top in stdlib)
        if wanted:
            found.append(name)
    return tuple(found)


def _from_outside(kind: str, file: str, homes: tuple[str, ...], standard: bool) -> bool:
    """The standard library, or installed code (site-packages, the engine): not the user's."""
    if kind == "std":
        return standard
    if kind != "third":
        return False  # the user's own code wherever it lives (an editable install)
    real = os.path.realpath(file)
    return real.startswith(_ENGINE_DIR) or not real.startswith(homes)


def shadowed(packages: Iterable[str], roots: Iterable[str]) -> set[str]:
    """The top-level packages a file in the project folders would shadow: a run imports that
    file, so a spare must not hold the installed package under the same name.

    Asked on every save, of a list that holds the standard library's modules too: the
    folders are listed once, and only the names found there are asked of the import system.
    """
    folders = [str(r) for r in roots]
    listed = _module_names_in(folders)
    candidates = [name for name in packages if name in listed]
    if not candidates:
        return set()
    importlib.invalidate_caches()  # a folder's listing is cached by its mtime, which is coarse
    found: set[str] = set()
    for name in candidates:
        spec = importlib.machinery.PathFinder.find_spec(name, folders)
        if spec is not None and spec.origin is not None:  # None: a namespace portion only
            found.add(name)
    return found


def _module_names_in(folders: Iterable[str]) -> set[str]:
    """Every name a module or package in these folders could be imported by (a superset)."""
    suffixes = importlib.machinery.all_suffixes()
    names: set[str] = set()
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            names.add(entry.name)  # a package (a folder), or a file without a suffix
            names.update(entry.name[: -len(s)] for s in suffixes if entry.name.endswith(s))
    return names


def top_level(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({name.partition(".")[0] for name in names}))


def warm_up(
    names: Iterable[str],
    roots: Iterable[str],
    go: threading.Event,
    versions: Iterable[str] = (),
) -> tuple[str, ...]:
    """Import `names` (skipping packages the project shadows) and look up the `versions` the
    last run looked up, stopping early if the go comes first; returns the top-level packages
    now imported. The project folders are off `sys.path` meanwhile, so nothing here can
    import a user module."""
    folders = {os.path.realpath(r) for r in roots}
    wanted = [n for n in names if n not in sys.modules]
    skip = shadowed(top_level(wanted), folders)
    saved = list(sys.path)
    sys.path[:] = [p for p in saved if os.path.realpath(p or os.curdir) not in folders]
    try:
        for name in wanted:
            if go.is_set():
                break
            if name.partition(".")[0] in skip or name in sys.modules:
                continue
            with contextlib.suppress(BaseException):  # the run imports it, and says why not
                importlib.import_module(name)
    finally:
        sys.path[:] = saved
    done = tuple(sorted({n.partition(".")[0] for n in names if n in sys.modules} - skip))
    if not go.is_set():
        _know_versions(set(versions) & set(done))
    return done


def _know_versions(packages: Iterable[str]) -> None:
    """Look up the installed versions a step's code identity names for the libraries it uses:
    the first lookup reads every installed distribution's file list (~0.3 s with scikit-learn
    installed), which a cold worker pays before its first step. Only those the last run
    needed: a stdlib pipeline needs none."""
    from flowyml_tui.engine.hashing.origin import package_version

    for name in packages:
        with contextlib.suppress(Exception):
            package_version(name)


def resident_bytes() -> int | None:
    """This process's resident memory, from /proc (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def write_list(modules: Iterable[str], versions: Iterable[str]) -> bytes:
    """The spare's list: module names one a line, then a blank line, then the packages
    whose versions to look up."""
    return ("\n".join(modules) + "\n\n" + "\n".join(versions)).encode()


def read_list(fd: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(modules, versions) as `write_list` wrote them; nothing if unreadable."""
    try:
        with open(fd, encoding="utf-8") as listing:
            modules, _, versions = listing.read().partition("\n\n")
    except (OSError, UnicodeDecodeError):
        return (), ()
    return tuple(modules.split()), tuple(versions.split())
