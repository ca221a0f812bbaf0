"""Where code comes from: the user's project, the standard library, or a third-party package.

User code is hashed by its content; library code counts by package version. Code with no file
behind it (`exec`, `eval`, a REPL or notebook cell) is the user's: it has nothing else to be
identified by than its code object.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from typing import Literal

__all__ = [
    "Kind",
    "code_kind",
    "is_user_file",
    "kind_of_path",
    "know_install_dirs",
    "module_kind",
    "package_version",
]

Kind = Literal["user", "std", "third"]


def _install_dirs() -> tuple[tuple[str, ...], tuple[str, ...]]:
    std: set[str] = set()
    site: set[str] = set()
    schemes = [
        sysconfig.get_paths(),
        sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix}),
    ]
    for paths in schemes:
        std.update(paths[k] for k in ("stdlib", "platstdlib") if k in paths)
        site.update(paths[k] for k in ("purelib", "platlib") if k in paths)
    try:
        import site as site_module

        site.update(site_module.getsitepackages())
        site.add(site_module.getusersitepackages())
    except Exception:  # pragma: no cover - embedded interpreters without `site`
        pass

    def norm(paths: set[str]) -> tuple[str, ...]:
        return tuple(sorted({os.path.realpath(p) + os.sep for p in paths if p}))

    return norm(std), norm(site)


_DIRS: tuple[tuple[str, ...], tuple[str, ...]] | None = None
_PATH_KINDS: dict[str, Kind] = {}
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep


def know_install_dirs() -> None:
    """Work out where the standard library and site-packages are (sysconfig: about 3 ms) before
    the first question needs it: a spare worker does it while it waits for a save."""
    global _DIRS
    if _DIRS is None:
        _DIRS = _install_dirs()


def is_user_file(path: str | None) -> bool:
    """A file of the user's own project: not the stdlib, site-packages or flowyml_tui itself."""
    return kind_of_path(path) == "user"


def kind_of_path(path: str | None) -> Kind:
    """user = a real file outside the stdlib and site-packages; flowyml_tui itself is not user."""
    if not path:
        return "std"
    kind = _PATH_KINDS.get(path)
    if kind is not None:
        return kind
    global _DIRS
    if _DIRS is None:
        _DIRS = _install_dirs()
    std_dirs, site_dirs = _DIRS
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    if (
        real.startswith(site_dirs)
        or "site-packages" in parts
        or "dist-packages" in parts
        or real.startswith(_OWN_DIR)
    ):
        kind = "third"
    elif real.startswith(std_dirs) or path.startswith("<") or not os.path.exists(real):
        kind = "std"
    else:
        kind = "user"
    _PATH_KINDS[path] = kind
    return kind


def module_kind(module_name: str | None) -> Kind:
    """Where a module's code lives; code of unknown origin (exec, REPL) counts as user code."""
    if not module_name or module_name == "builtins":
        return "std"
    top = module_name.partition(".")[0]
    module = sys.modules.get(module_name) or sys.modules.get(top)
    path = getattr(module, "__file__", None)
    if path:
        return kind_of_path(path)
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return "std"
    for entry in getattr(module, "__path__", None) or ():  # namespace package
        return kind_of_path(entry)
    return "user"


_DISTRIBUTIONS: dict[str, list[str]] | None = None
_VERSIONS: dict[str, str] = {}


def package_version(module_name: str) -> tuple[str, str]:
    """(top-level package, version of the distribution that provides it)."""
    top = module_name.partition(".")[0]
    version = _VERSIONS.get(top)
    if version is None:
        import importlib.metadata as metadata

        global _DISTRIBUTIONS
        if _DISTRIBUTIONS is None:
            _DISTRIBUTIONS = metadata.packages_distributions()
        version = ""
        for dist in _DISTRIBUTIONS.get(top, ()):
            try:
                version = metadata.version(dist)
                break
            except Exception:
                continue
        if not version:
            version = str(getattr(sys.modules.get(top), "__version__", "unknown"))
        _VERSIONS[top] = version
    return top, version


def versions_looked_up() -> tuple[str, ...]:
    """The packages whose versions this process looked up: a spare worker looks up the same
    ones before the next run (`runner/warm.py`)."""
    return tuple(sorted(_VERSIONS))


_FILES_SEEN: dict[str, bool] = {}


def code_kind(path: str | None, module_name: str | None) -> Kind:
    """Where a function's code lives, from its `co_filename` and `__module__`.

    Code whose file is not there (`<string>`, a notebook cell's temporary name) counts as its
    module does, and code from a bare `exec`/`eval` namespace (no module) is the user's.
    """
    if path and not path.startswith("<"):
        exists = _FILES_SEEN.get(path)
        if exists is None:
            exists = _FILES_SEEN[path] = os.path.exists(path)
        if exists:
            return kind_of_path(path)
    if not module_name:
        return "user"
    return module_kind(module_name)
