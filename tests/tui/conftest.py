"""Helpers for the TUI tests: real pipeline files, real worker processes, a real Textual app.

Tests wait on conditions (helpers.wait_until), never on fixed sleeps, and build the app with
`make_app` so the cache lives in tmp_path and the clock can be fixed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowyml_tui.tui.app import FlowymlApp, make_app

HEADER = "import time\nfrom flowyml_tui import Pipeline, step\n"

CHAIN = """
@step(outputs=["raw"])
def load(n: int = 5):
    return list(range(n))


@step(inputs=["raw"], outputs=["doubled"])
def double(raw):
    print("doubling", len(raw))
    return [x * 2 for x in raw]


@step(inputs=["doubled"], outputs=["total"])
def total(doubled):
    return sum(doubled)


pipeline = Pipeline("demo", cache_dir=".flowyml/cache")
pipeline.add_step(load).add_step(double).add_step(total)
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports and relative cache dirs land in tmp_path, never in the checkout."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def write_pipeline(tmp_path: Path) -> Callable[..., Path]:
    def write(body: str = CHAIN, name: str = "demo.py") -> Path:
        path = tmp_path / name
        path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
        return path

    return write


@pytest.fixture
def new_app(tmp_path: Path) -> Callable[..., FlowymlApp]:
    def build(*paths: Path, **kwargs: Any) -> FlowymlApp:
        kwargs.setdefault("cache_dir", str(tmp_path / "cache"))
        kwargs.setdefault("watch", False)
        kwargs.setdefault("keymap_file", tmp_path / "keymap.toml")  # never the user's own
        return make_app(list(paths), **kwargs)

    return build
