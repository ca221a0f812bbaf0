"""Why a step ran: compare its recipe now with the recipe of a cached entry, in words and a diff."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from ..cache.entry import Entry
from ..cache.keys import Recipe
from ..events import ReasonKind


class Explanation(msgspec.Struct, frozen=True):
    """The differences between two recipes; empty `kinds` means none were found."""

    kinds: tuple[ReasonKind, ...] = ()
    phrases: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    diff: str | None = None

    @property
    def kind(self) -> ReasonKind | None:
        return self.kinds[0] if self.kinds else None

    @property
    def text(self) -> str:
        return "; ".join(self.phrases)


def compare(
    recipe: Recipe,
    functions: Mapping[str, str],
    sources: Mapping[str, str],
    entry: Entry,
    producers: Mapping[str, str],
    old_source: Callable[[str], str | None],
    home: str = "",
) -> Explanation:
    """What differs between the current recipe and `entry`'s, most telling difference first.

    `functions`/`sources` are the current code identity's per-function hashes and texts;
    `producers` maps an input name to the step that outputs it; `old_source` fetches the text
    of a function version from the store; functions of module `home` are named without it.
    """
    old = entry.recipe
    kinds: list[ReasonKind] = []
    phrases: list[str] = []
    changed: list[str] = []
    diff = None

    if old.policy != recipe.policy:
        kinds.append(ReasonKind.KEY_CHANGED)
        phrases.append(f"cache strategy changed ({old.policy} -> {recipe.policy})")
    if recipe.code_hash and old.code_hash and old.code_hash != recipe.code_hash:
        old_functions = entry.functions
        names = changed_functions(old_functions, functions)
        kinds.append(ReasonKind.CODE_CHANGED)
        phrases.append(
            f"code changed: {', '.join(_short(n, home) for n in names)}"
            if names
            else "code changed"
        )
        changed.extend(_short(n, home) for n in names)
        diff = code_diff(names, old_functions, functions, sources, old_source, home) or None
    for name in sorted(set(old.inputs) | set(recipe.inputs)):
        if old.inputs.get(name) != recipe.inputs.get(name):
            producer = producers.get(name)
            if producer:
                kinds.append(ReasonKind.UPSTREAM_CHANGED)
                phrases.append(f"upstream {producer} changed ({name})")
                changed.append(producer)
            else:
                kinds.append(ReasonKind.INPUT_CHANGED)
                phrases.append(f"input {name} changed")
                changed.append(name)
    for name in sorted(set(old.context) | set(recipe.context)):
        if old.context.get(name) != recipe.context.get(name):
            kinds.append(ReasonKind.CONTEXT_CHANGED)
            phrases.append(_context_phrase(name, old.context_shown, recipe))
            changed.append(name)
    if old.custom_key != recipe.custom_key:
        kinds.append(ReasonKind.KEY_CHANGED)
        phrases.append("key function returned a new key")
    if tuple(entry.outputs) != recipe.outputs:
        kinds.append(ReasonKind.KEY_CHANGED)
        phrases.append("declared outputs changed")
    order = list(ReasonKind)
    ranked = sorted(zip(kinds, phrases, strict=True), key=lambda pair: order.index(pair[0]))
    return Explanation(
        kinds=tuple(k for k, _ in ranked),
        phrases=tuple(p for _, p in ranked),
        changed=tuple(dict.fromkeys(changed)),
        diff=diff,
    )


def _context_phrase(name: str, old_shown: Mapping[str, str], recipe: Recipe) -> str:
    """ "context changed: n 10 -> 20" when both values are known and read differently."""
    before = old_shown.get(name)
    values = recipe.context_values
    if before is None or values is None or name not in values or name not in recipe.context:
        return f"context key {name} changed"
    from .context_text import shown_value

    after = shown_value(values[name])
    if after == before:  # same text, other value (cut short, or mutated): say no more
        return f"context key {name} changed"
    return f"context changed: {name} {before} -> {after}"


def code_diff(
    names: list[str],
    old_functions: Mapping[str, str],
    functions: Mapping[str, str],
    sources: Mapping[str, str],
    old_source: Callable[[str], str | None],
    home: str = "",
    labels: tuple[str, str] = ("cached", "now"),
) -> str:
    """A unified diff per changed function: the cached version against the current one
    (`labels` name the two sides)."""
    import difflib  # only a step whose code changed needs it; a cached run never does

    chunks = []
    for name in names:
        before = old_source(old_functions[name]) if name in old_functions else ""
        after = sources.get(name, "") if name in functions else ""
        if before is None:
            before = "# (the cached version's source was not kept)\n"
        label = _short(name, home)
        chunks.extend(
            difflib.unified_diff(
                _lines(before),
                _lines(after),
                fromfile=f"{label} ({labels[0]})",
                tofile=f"{label} ({labels[1]})",
            )
        )
    return "".join(chunks)


def changed_functions(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """The functions (qualified names) whose hash differs, then those gone from `new`."""
    names = [name for name in new if old.get(name) != new[name]]
    names += [name for name in old if name not in new]
    return names


def _short(qualified: str, home: str) -> str:
    """'pkg.module:func' -> 'func' in the step's own module, 'module.func' elsewhere."""
    module, _, qualname = qualified.partition(":")
    if not qualname:
        return qualified
    if module == home:
        return qualname
    return f"{module.rsplit('.', 1)[-1]}.{qualname}"


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines
