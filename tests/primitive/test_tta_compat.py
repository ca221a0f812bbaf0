"""Code written for TTA.dev's own CachePrimitive runs unchanged: positional signature
(primitive, ttl_seconds, cache_key_fn), its method names, its counters in `context.state`."""

from __future__ import annotations

import asyncio
from typing import Any

from flowyml_tui import CachePrimitive, WorkflowContext

from .conftest import Clock


class WorldBuilder:
    """A TTA.dev-style primitive: an object whose async `execute(input_data, context)` works."""

    def __init__(self) -> None:
        self.calls = 0

    async def execute(self, input_data: dict[str, Any], context: WorkflowContext) -> str:
        self.calls += 1
        return f"{input_data['theme']} world for {context.session_id}"


def test_tta_positional_signature_and_context_state_counters(clock: Clock) -> None:
    builder = WorldBuilder()
    cached = CachePrimitive(
        builder,
        1800.0,
        lambda data, ctx: f"{data['theme']}:{data['setting']}:{ctx.session_id}",
        clock=clock,
    )
    context = WorkflowContext(workflow_id="demo", session_id="s1", player_id="p1")

    async def run() -> list[str]:
        return [
            await cached.execute({"theme": "dark", "setting": "castle"}, context) for _ in range(3)
        ]

    assert asyncio.run(run()) == ["dark world for s1"] * 3
    assert builder.calls == 1
    assert context.state == {"cache_misses": 1, "cache_hits": 2}
    assert cached.get_stats() == {
        "size": 1,
        "hits": 2,
        "misses": 1,
        "expirations": 0,
        "hit_rate": 66.67,
        "saved_cost": 0.0,
        "spent_cost": 0.0,
    }
    assert cached.get_hit_rate() == 66.67
    assert cached.ttl_seconds == 1800.0 and cached.primitive is builder

    clock.advance(1800)
    assert cached.evict_expired() == 1
    asyncio.run(run())
    cached.clear_cache()
    assert cached.get_stats()["size"] == 0 and cached.get_stats()["misses"] == 2


def test_tta_keyword_style_with_state_keys_and_any_context_object() -> None:
    class PydanticLikeContext:
        """Stands in for TTA.dev's pydantic WorkflowContext: any object with `.state` works."""

        def __init__(self, player_id: str) -> None:
            self.workflow_id = "wf"
            self.state: dict[str, Any] = {"player_id": player_id}

    async def expensive_llm_call(data: dict[str, Any], context: Any) -> str:
        return f"{data['prompt']} for {context.state['player_id']}"

    cached_llm = CachePrimitive(
        primitive=expensive_llm_call,
        cache_key_fn=lambda data, ctx: f"{data['prompt']}:{ctx.state.get('player_id')}",
        ttl_seconds=3600.0,
    )
    alice, bob = PydanticLikeContext("alice"), PydanticLikeContext("bob")

    async def run() -> list[str]:
        return [
            await cached_llm.execute({"prompt": "hi"}, alice),
            await cached_llm.execute({"prompt": "hi"}, bob),
            await cached_llm.execute({"prompt": "hi"}, alice),
        ]

    assert asyncio.run(run()) == ["hi for alice", "hi for bob", "hi for alice"]
    assert alice.state["cache_hits"] == 1 and alice.state["cache_misses"] == 1
    assert sorted(cached_llm.keys()) == ["hi:alice", "hi:bob"]
