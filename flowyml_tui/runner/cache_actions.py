"""What the workbench's cache keys do (`i` invalidate, `p` pin, clear, clear a step's call
caches): the session's side of the store, so the TUI asks for an action and never opens,
clears or pins a store itself."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from flowyml_tui.engine.cache import open_store


class CacheChange(msgspec.Struct, frozen=True):
    """What an action did, in words for a notification, and whether to run again."""

    note: str
    rerun: bool
    cleared: bool = False
    """Every cached result is gone: the table stops showing any as reusable at once."""


def change_cache(
    cache_dir: str, action: str, steps: Sequence[str], pipeline: str | None
) -> CacheChange:
    """Invalidate the steps, pin or unpin one, or clear the cache; the store is closed after."""
    store = open_store(cache_dir)
    try:
        if action == "invalidate":
            store.invalidate(steps, pipeline=pipeline)
            return CacheChange(f"Invalidated {', '.join(steps)}", True)
        if action == "pin":
            (name,) = steps
            if name in store.pins(pipeline):
                store.unpin(name, pipeline=pipeline)
                return CacheChange(f"Unpinned {name}", True)
            store.pin(name, pipeline=pipeline)
            return CacheChange(f"Pinned {name}: it keeps its cached result until unpinned", True)
        if action == "clear":
            store.clear()
            return CacheChange("Cache cleared; the next run executes every step", False, True)
        raise ValueError(f"unknown cache action {action!r}")
    finally:
        store.close()


def clear_calls(step: str, places: Sequence[str], keys: str) -> CacheChange:
    """Empty the call-cache disk slots a step used; a slot that cannot be cleared (refused,
    gone) is named in the note, the others are still cleared. `keys` re-run the step."""
    from flowyml_tui.engine.describe.display import plural
    from flowyml_tui.engine.errors import CacheError
    from flowyml_tui.engine.primitive.backends.disk import clear_slot

    removed, problems = 0, []
    for place in places:
        try:
            removed += clear_slot(place)
        except (OSError, ValueError, CacheError) as exc:  # CacheError: a slot refused
            problems.append(str(exc))
    note = (
        f"Cleared {plural(removed, 'call-cache entry', 'call-cache entries')} of {step}; "
        f"its next run makes those calls again ({keys} re-runs it now)"
    )
    if problems:
        note += ". Not cleared: " + "; ".join(problems)
    return CacheChange(note, False)
