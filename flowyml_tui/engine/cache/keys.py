"""Cache keys as pure functions of a step's recipe (Hamilton's model).

A recipe is everything the result depends on: step name, strategy, code identity, the
fingerprint of every input and context value read. The recipe is stored with the entry, so a
miss can be explained by comparing it with the newest entry's recipe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import xxhash

from .entry import KEY_FORMAT, StoredRecipe


class Recipe(msgspec.Struct, frozen=True):
    """What a step's cached result depends on; `key()` digests it."""

    pipeline: str
    step: str
    policy: str
    outputs: tuple[str, ...]
    code_hash: str | None = None
    inputs: dict[str, str] = {}
    """input name -> fingerprint of its value (an upstream output's stored fingerprint)"""
    context: dict[str, str] = {}
    """context parameter -> fingerprint of its value"""
    custom_key: str | None = None
    context_values: Mapping[str, Any] | None = None
    """The run's context itself (not part of the key): shown in a reason, kept with an entry."""

    def key(self) -> str:
        """`<step>-<xxh3_128 of the recipe>`: readable in a debugger, unique per recipe.

        The digest covers the key format and the pipeline: two pipelines sharing a cache dir
        never share an entry, even for steps of the same name and code.
        """
        parts = [
            key_prefix(
                self.pipeline,
                self.step,
                self.policy,
                self.outputs,
                self.code_hash,
                self.custom_key,
            )
        ]
        parts += [f"in:{name}={fp}" for name, fp in sorted(self.inputs.items())]
        parts += [f"ctx:{name}={fp}" for name, fp in sorted(self.context.items())]
        return key_of(self.step, parts)

    def stored(self) -> StoredRecipe:
        """The part kept with an entry, to explain a later miss against."""
        return StoredRecipe(
            policy=self.policy,
            code_hash=self.code_hash,
            inputs=self.inputs,
            context=self.context,
            custom_key=self.custom_key,
            context_shown=self.context_shown(),
        )

    def context_shown(self) -> dict[str, str]:
        """The short text of each context value the step reads (empty without the values)."""
        if not self.context_values or not self.context:
            return {}
        from ..describe.context_text import shown_context

        return shown_context(self.context_values, self.context)


def key_prefix(
    pipeline: str,
    step: str,
    policy: str,
    outputs: tuple[str, ...],
    code_hash: str | None,
    custom_key: str | None,
) -> str:
    """The part of a key's digested text fixed by the step and its code, not its inputs.

    Split out so the executor's hit path can digest a key without building a `Recipe`;
    `Recipe.key` uses it too, so both stay byte-identical.
    """
    return _SEP.join(
        (
            f"v{KEY_FORMAT}",
            pipeline,
            step,
            policy,
            ",".join(outputs),
            "code=" + (code_hash or "-"),
            "key=" + (custom_key or "-"),
        )
    )


def key_of(step: str, parts: list[str]) -> str:
    """The key of a step from its prefix then its `in:`/`ctx:` parts, in sorted order."""
    return f"{step}-{xxhash.xxh3_128_hexdigest(_SEP.join(parts).encode())}"


_SEP = chr(0)
