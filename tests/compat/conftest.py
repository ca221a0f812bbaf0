"""Tests that need the real flowyml package: skipped on a laptop without it, failed in CI.

flowyml==2.2.1 is in the test extra, so `.ci/run` (CI=true) always has it; a CI run that
lacks it has lost the tests that prove unchanged flowyml files open, and says so.
"""

from __future__ import annotations

import os

import pytest

from flowyml_tui.engine.compat.shim import real_flowyml_installed


@pytest.fixture
def real_flowyml(tmp_path, monkeypatch) -> None:
    """The real flowyml importable; its `.flowyml/` folders made under tmp_path, not here."""
    if not real_flowyml_installed():
        message = "needs the real flowyml==2.2.1: pip install -e '.[test]' (or '.[flowyml]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOWYML_HOME", str(tmp_path / "flowyml-home"))
