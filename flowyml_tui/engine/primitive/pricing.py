"""What a cached call cost: `cost_fn`s for CachePrimitive, such as one priced by LLM tokens.

A `cost_fn` is a function of the call's result that returns what the call cost, in the
project's currency. A miss adds it to the cache's spent total; a hit adds it (the cost the hit
avoided) to the saved total. `token_cost` builds one for LLM calls from a price table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ..errors import FlowymlError

CostFn = Callable[[Any], float]


class TokenPrice(NamedTuple):
    """A model's price per million input (prompt) and output (completion) tokens."""

    input_per_million: float
    output_per_million: float


class TokenUsage(NamedTuple):
    model: str
    input_tokens: int
    output_tokens: int


_INPUT_NAMES = ("input_tokens", "prompt_tokens")
_OUTPUT_NAMES = ("output_tokens", "completion_tokens")


def _count(usage: Mapping[str, Any], names: tuple[str, ...]) -> int:
    for name in names:
        if name in usage:
            return int(usage[name])
    raise FlowymlError(
        f"token_cost: the result's usage has none of {', '.join(names)}; "
        "give token_cost(..., usage=<a function of the result returning TokenUsage>)"
    )


def usage_of(result: Any) -> TokenUsage:
    """The model and token counts of a dict result shaped like OpenAI's or Anthropic's
    (`model`, and `usage` with input/prompt and output/completion token counts)."""
    if not isinstance(result, Mapping) or "model" not in result:
        raise FlowymlError(
            "token_cost: the result is not a dict with 'model' and 'usage'; "
            "give token_cost(..., usage=<a function of the result returning TokenUsage>)"
        )
    usage = result.get("usage", result)
    if not isinstance(usage, Mapping):
        raise FlowymlError("token_cost: the result's 'usage' is not a dict of token counts")
    return TokenUsage(
        str(result["model"]), _count(usage, _INPUT_NAMES), _count(usage, _OUTPUT_NAMES)
    )


def token_cost(
    prices: Mapping[str, TokenPrice | tuple[float, float]],
    usage: Callable[[Any], TokenUsage] = usage_of,
) -> CostFn:
    """A `cost_fn` pricing an LLM call's tokens: `prices` maps a model to its (input, output)
    price per million tokens; `usage` reads the model and counts from a result."""
    table = {model: TokenPrice(*price) for model, price in prices.items()}

    def cost(result: Any) -> float:
        used = usage(result)
        price = table.get(used.model)
        if price is None:
            raise FlowymlError(
                f"token_cost: no price for model {used.model!r}; add it to the price table "
                f"(known: {', '.join(sorted(table)) or 'none'})"
            )
        return (
            used.input_tokens * price.input_per_million
            + used.output_tokens * price.output_per_million
        ) / 1_000_000

    return cost
