"""`from flowyml import Pipeline, step, context` in a file opened by the workbench, without flowyml.

When the real `flowyml` package is not installed, the loader puts a finder on `sys.meta_path`
that answers `import flowyml` (and `flowyml.core`, `flowyml.core.step`, `.pipeline`,
`.context`) with modules holding our `Pipeline`, `step`, `Step`, `Context` and `context`. A name
we do not provide (`Dataset`, `If`, stacks, trackers ...) fails the import with a message
naming it, not with a half-working stand-in. With flowyml installed the finder does nothing.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

PROVIDED = ("Pipeline", "step", "Step", "Context", "context")
_MODULES = {
    "flowyml": PROVIDED,
    "flowyml.core": PROVIDED,
    "flowyml.core.step": ("step", "Step"),
    "flowyml.core.pipeline": ("Pipeline",),
    "flowyml.core.context": ("Context", "context"),
}
SHIM_FLAG = "__flowyml_tui_shim__"


def real_flowyml_installed() -> bool:
    """True if `import flowyml` would find the real package (ours is never on the path)."""
    module = sys.modules.get("flowyml")
    if module is not None:
        return not getattr(module, SHIM_FLAG, False)
    return importlib.machinery.PathFinder.find_spec("flowyml") is not None


class _ShimLoader:
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return _shim_module(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        return None


class FlowymlShimFinder:
    """Serves the shim modules; `import flowyml.anything_else` gets a clear ImportError."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "flowyml" and not fullname.startswith("flowyml."):
            return None
        if fullname not in _MODULES:
            raise ImportError(_unsupported(fullname))
        is_package = fullname in ("flowyml", "flowyml.core")
        spec = importlib.machinery.ModuleSpec(fullname, _ShimLoader(), is_package=is_package)
        if is_package:
            spec.submodule_search_locations = []
        return spec


def install_flowyml_shim() -> bool:
    """Answer `import flowyml` with ours unless the real package is installed; True if on."""
    if any(isinstance(f, FlowymlShimFinder) for f in sys.meta_path):
        return True
    if real_flowyml_installed():
        return False
    sys.meta_path.append(FlowymlShimFinder())  # last: a real flowyml installed later wins
    return True


def _shim_module(name: str) -> ModuleType:
    from ... import engine

    module = ModuleType(name, f"flowyml-tui's stand-in for {name} (flowyml is not installed)")
    for attr in _MODULES[name]:
        setattr(module, attr, getattr(engine, attr))
    setattr(module, SHIM_FLAG, True)
    module.__all__ = list(_MODULES[name])  # type: ignore[attr-defined]

    def missing(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise ImportError(_unsupported(f"{name}.{attr}"))

    module.__getattr__ = missing  # type: ignore[attr-defined]
    return module


def _unsupported(what: str) -> str:
    return (
        f"{what} is not available: flowyml is not installed, and flowyml-tui stands in only "
        f"for {', '.join(PROVIDED)} (from flowyml, flowyml.core, flowyml.core.step/pipeline/"
        "context); pip install 'flowyml-tui[flowyml]' to open files using the rest (the real "
        "flowyml 2.2.1, translated to our engine), or import those names from flowyml_tui"
    )
