"""Fixtures for the call cache: a clock the tests move by hand, and a counted fake "LLM"."""

from __future__ import annotations

from typing import Any

import pytest


class Clock:
    """Wall-clock stand-in: TTLs expire when a test says so, never by sleeping."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeLLM:
    """An async `(data, context)` primitive that records every call it really makes."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def __call__(self, data: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append(data)
        text = data.get("prompt", data.get("query"))
        return {"response": f"answer to {text}", "n": len(self.calls)}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def llm() -> FakeLLM:
    return FakeLLM()
