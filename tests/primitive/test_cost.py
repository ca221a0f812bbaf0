"""What a cached call cost: `cost_fn` prices misses as spent and hits as saved (issue 28)."""

from __future__ import annotations

import asyncio
import re

import pytest

from flowyml_tui import CachePrimitive, TokenPrice, token_cost
from flowyml_tui.engine.errors import FlowymlError
from tests.needs import need

pytestmark = pytest.mark.timeout(60)


def answer(data: dict, context: object) -> dict:
    """A stand-in LLM reply: the price rides in the result, as in the seed's example."""
    return {"text": data["prompt"].upper(), "cost": data["cost"]}


def by_result_cost(result: dict) -> float:
    return result["cost"]


def test_misses_spend_and_hits_save_what_the_call_cost() -> None:
    cache = CachePrimitive(answer, cost_fn=by_result_cost, backend="memory", metrics=False)
    cache.call({"prompt": "a", "cost": 0.25})  # miss: spent 0.25
    cache.call({"prompt": "b", "cost": 1.5})  # miss: spent 1.5
    cache.call({"prompt": "a", "cost": 0.25})  # hit: saved 0.25
    asyncio.run(cache.execute({"prompt": "b", "cost": 1.5}))  # hit: saved 1.5
    cache.call({"prompt": "b", "cost": 1.5})  # hit: saved 1.5
    stats = cache.get_stats()
    assert (stats["hits"], stats["misses"]) == (3, 2)
    assert stats["spent_cost"] == pytest.approx(1.75)
    assert stats["saved_cost"] == pytest.approx(3.25)


def test_without_a_cost_fn_money_is_zero() -> None:
    cache = CachePrimitive(answer, backend="memory", metrics=False)
    cache.call({"prompt": "a", "cost": 9.0})
    cache.call({"prompt": "a", "cost": 9.0})
    stats = cache.get_stats()
    assert (stats["saved_cost"], stats["spent_cost"]) == (0.0, 0.0)


def llm(data: dict, context: object) -> dict:
    """Shaped like an OpenAI chat completion: model and usage."""
    return {
        "model": data["model"],
        "usage": {"prompt_tokens": 1_000, "completion_tokens": 500},
        "text": "ok",
    }


def test_token_cost_prices_input_and_output_tokens_by_model() -> None:
    prices = {"small": TokenPrice(0.5, 1.5), "big": (10.0, 30.0)}
    cache = CachePrimitive(llm, cost_fn=token_cost(prices), backend="memory", metrics=False)
    cache.call({"model": "small", "q": 1})  # 1000 * 0.5/1e6 + 500 * 1.5/1e6 = 0.00125
    cache.call({"model": "big", "q": 1})  # 1000 * 10/1e6 + 500 * 30/1e6 = 0.025
    cache.call({"model": "big", "q": 1})  # hit
    stats = cache.get_stats()
    assert stats["spent_cost"] == pytest.approx(0.02625)
    assert stats["saved_cost"] == pytest.approx(0.025)


def test_token_cost_names_a_model_missing_from_the_table() -> None:
    cache = CachePrimitive(llm, cost_fn=token_cost({"small": (0.5, 1.5)}), backend="memory")
    with pytest.raises(FlowymlError, match=r"no price for model 'huge'.*known: small"):
        cache.call({"model": "huge"})


def test_a_cost_fn_that_raises_says_what_it_takes() -> None:
    cache = CachePrimitive(answer, cost_fn=lambda result: result["price"], backend="memory")
    with pytest.raises(FlowymlError, match="cost_fn raised KeyError"):
        cache.call({"prompt": "a", "cost": 1.0})


def test_a_cost_fn_that_is_not_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="cost_fn must be a callable"):
        CachePrimitive(answer, cost_fn=3.0)


def test_prometheus_exports_saved_and_spent_cost() -> None:
    prometheus_client = need("prometheus_client")
    cache = CachePrimitive(
        answer, cost_fn=by_result_cost, backend="memory", name="priced-scrape", metrics=True
    )
    cache.call({"prompt": "a", "cost": 2.0})
    cache.call({"prompt": "a", "cost": 2.0})
    cache.call({"prompt": "a", "cost": 2.0})
    text = prometheus_client.generate_latest().decode()
    found = dict(
        re.findall(r'^(flowyml_cache_\w+_cost_total)\{cache="priced-scrape"\} (\S+)$', text, re.M)
    )
    assert float(found["flowyml_cache_saved_cost_total"]) == pytest.approx(4.0)
    assert float(found["flowyml_cache_spent_cost_total"]) == pytest.approx(2.0)
