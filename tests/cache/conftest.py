"""Shared-tier fixtures: a real redis-server per module (and one per test that kills it).

Per module, not per session: the runner tests count the test process's children, and a
server left running for the rest of the session would look like a leaked worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .redis_server import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """A server this test alone may stop and restart."""
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def team(monkeypatch, request) -> str:
    """A team secret and a project name no other test uses (tests share one server)."""
    monkeypatch.setenv("FLOWYML_TUI_SECRET", "team-secret")
    monkeypatch.setenv("FLOWYML_TUI_PROJECT", request.node.name)
    return request.node.name
