"""A test that needs an optional library: skipped on a laptop without it, failed in CI.

Everything these tests import is in the test extra, so a CI run that lacks one has lost
tests without saying so; `pytest.importorskip` would skip them silently there.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def need(module: str) -> ModuleType:
    """`module`, imported; a skip without it, or a failure when CI=true."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = f"needs {module} (in the test extra: pip install -e '.[test]'): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}")
        pytest.skip(message, allow_module_level=True)


def need_program(name: str) -> str:
    """The path of program `name` (tmux, say); a skip without it, or a failure when CI=true."""
    import shutil

    found = shutil.which(name)
    if found is None:
        message = f"needs the {name} program on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    return found
