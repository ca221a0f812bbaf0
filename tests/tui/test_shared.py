"""The TUI with the team's shared cache (a real redis-server, real worker processes):
the status line says `shared ✓ N hits` or `shared offline`."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowyml_tui.cli.tui import add_arguments, build_app
from flowyml_tui.tui.widgets.status_line import StatusLine

from ..cache.redis_server import RedisServer
from .helpers import drive, statuses, wait_for_run, widget_text

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def redis_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> Iterator[str]:
    """A real redis-server, the team secret, and a project name of this test's own."""
    server = RedisServer(tmp_path / "redis")
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", request.node.name)
    monkeypatch.setenv("FLOWYML_TUI_SHARED", "")  # restored after: build_app sets it
    request.node.redis = server
    yield server.url
    server.stop()


def tui(*argv: str):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    app = build_app(parser.parse_args([*argv, "--no-watch"]))
    assert not isinstance(app, int)
    return app


def test_the_tui_shows_every_step_cached_from_a_teammates_run(
    write_pipeline, redis_url, tmp_path: Path
) -> None:
    path = write_pipeline()
    alice = ["--shared", redis_url, "--cache-dir", str(tmp_path / "alice")]
    done = subprocess.run(  # teammate A, headless, on their own machine (own cache dir)
        [sys.executable, "-m", "flowyml_tui", "run", str(path), *alice],
        capture_output=True,
        text=True,
        timeout=50,
        env={**os.environ, "FLOWYML_TUI_SHARED": ""},
    )
    assert done.returncode == 0, done.stderr
    app = tui(str(path), "--shared", redis_url, "--cache-dir", str(tmp_path / "bob"))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        assert statuses(app) == {"load": "cached", "double": "cached", "total": "cached"}
        assert {row.tier for row in app.model.rows.values()} == {"shared"}
        await pilot.pause()
        assert "shared ✓ 3 hits" in widget_text(app.query_one(StatusLine))

    drive(app, scenario)


def test_the_status_line_says_shared_offline_when_redis_is_down(
    write_pipeline, redis_url, tmp_path: Path, request
) -> None:
    path = write_pipeline()
    request.node.redis.stop()  # it was there; now the team's Redis is down
    app = tui(str(path), "--shared", redis_url, "--cache-dir", str(tmp_path / "bob"))

    async def scenario(pilot) -> None:
        await wait_for_run(pilot, app, 1)
        assert statuses(app) == {"load": "executed", "double": "executed", "total": "executed"}
        await pilot.pause()
        line = widget_text(app.query_one(StatusLine))
        assert "shared offline" in line and "shared ✓" not in line

    drive(app, scenario)
