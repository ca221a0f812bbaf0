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


@pytest.fixture
def teammate(write_file, load, tmp_path, monkeypatch):
    """`teammate(name, url)`: the pipeline on that teammate's machine (own local cache dir)."""
    from .test_shared_tier import PIPELINE

    path = write_file("team.py", PIPELINE)
    monkeypatch.setenv("RAN_LOG", str(tmp_path / "ran.log"))

    def make(name: str, url: str):
        pipeline = load(path)
        pipeline.cache_dir = tmp_path / name
        pipeline.shared = url
        return pipeline

    return make


@pytest.fixture(scope="module")
def moto_server():
    from .moto_server import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def bucket(moto_server, monkeypatch, request) -> str:
    """A fresh bucket on the module's moto server, with the AWS settings s3fs reads set."""
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    name = "b-" + "".join(c for c in request.node.name.lower() if c.isalnum())[:50]
    moto_server.client.create_bucket(Bucket=name)
    return name
