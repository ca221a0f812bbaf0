"""Fixtures for runner tests: real pipeline files in tmp_path, run by real worker processes."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from flowyml_tui.runner.session import RunMessage, RunSession

HEADER = "from flowyml_tui import Pipeline, step\n"


@pytest.fixture
def cache_dir(tmp_path: Path) -> str:
    return str(tmp_path / ".flowyml" / "cache")


@pytest.fixture
def write_pipeline(tmp_path: Path) -> Callable[..., Path]:
    """Write a pipeline file (dedented, after a `from flowyml_tui import ...` line)."""

    def write(body: str, name: str = "pipe.py", header: str = HEADER) -> Path:
        path = tmp_path / name
        path.write_text(header + textwrap.dedent(body), encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_file(cache_dir: str) -> Callable[..., list[RunMessage]]:
    """Run a pipeline file once, to the end, in a worker; return every message."""

    def run(path: Path, **kwargs: object) -> list[RunMessage]:
        session = RunSession(path, cache_dir=cache_dir, **kwargs)  # type: ignore[arg-type]

        async def main() -> list[RunMessage]:
            try:
                return [message async for message in session.run()]
            finally:
                await session.aclose()

        return asyncio.run(main())

    return run
