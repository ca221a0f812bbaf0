"""Fixtures shared by every test: real pipeline files in temp dirs, real caches."""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowyml_tui.engine.load.loader import load_pipelines, pick_pipeline
from flowyml_tui.engine.pipeline import Pipeline
from flowyml_tui.engine.result import RunResult

REPO = Path(__file__).resolve().parent.parent

# The code cache (compiled pipeline code, definition digests) of a test run lives in a fresh
# private folder, inherited by the CLI and worker processes tests start, not in ~/.cache.
os.environ["FLOWYML_TUI_CODE_CACHE"] = tempfile.mkdtemp(prefix="flowyml-code-cache-")


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """Write dedented source to a file under tmp_path (the way a user's editor would)."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
        return path

    return write


@pytest.fixture
def load(tmp_path: Path) -> Callable[..., Pipeline]:
    """Import a pipeline file fresh, with its cache in tmp_path/cache."""

    def run_in_tmp(pipeline: Pipeline, context: dict[str, Any]) -> RunResult:
        pipeline.cache_dir = tmp_path / "cache"  # a run the script makes: not in the cwd
        load_one.script_results.append(pipeline.run(context))  # type: ignore[attr-defined]
        return load_one.script_results[-1]  # type: ignore[attr-defined]

    def load_one(path: Path, name: str | None = None) -> Pipeline:
        pipeline = pick_pipeline(load_pipelines(path, run_in_tmp), name, path)
        pipeline.cache_dir = tmp_path / "cache"
        return pipeline

    load_one.script_results = []  # type: ignore[attr-defined]
    """The results of the `run()` calls the files made themselves, in order."""
    return load_one
