"""Hit, run or pinned, and why: pure functions of the step, its recipe, the store, the
workspace and the clock.

Nothing here runs a step, loads a value or writes anything: the store is only read, the
workspace is a snapshot taken when the run started, and "now" comes from the caller, so a
TTL is decided against any clock (tests use a fixed one). Warnings a decision gives rise to
are returned with it for the caller to report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import msgspec

from ..cache.entry import Entry
from ..cache.keys import Recipe
from ..describe import reasons as explain
from ..events import ReasonKind
from ..hashing import CodeIdentity
from ..reads.check import ReadChange
from ..step import CachePolicy, Step

Clock = Callable[[], float]
"""Seconds since the epoch, as `time.time` gives them."""

WorldCheck = Callable[[Entry], ReadChange | None]
"""What no longer holds of the files an entry's step read (`Keying.world_change`)."""


class EntryReader(Protocol):
    """The reads a decision makes of the store (`cache.EntryStore` has them all)."""

    @property
    def unreadable(self) -> set[str]:
        """Keys whose metadata could not be read (reported as corrupt, not as new)."""
        ...

    def get_entry(self, key: str) -> Entry | None:
        """The entry stored under `key`, or None."""
        ...

    def newest_entry(self, pipeline: str, step: str) -> Entry | None:
        """The step's most recent entry in that pipeline, or None."""
        ...

    def source(self, fn_hash: str) -> str | None:
        """The source text stored for a function hash, or None."""
        ...


class WorkspaceSnapshot(msgspec.Struct, frozen=True):
    """This checkout's state for one pipeline, read once when a run starts."""

    pipeline: str
    pins: Mapping[str, str] = {}
    """step -> pinned key"""
    invalidated: Mapping[str, int] = {}
    """step -> time (ns) before which its entries do not count"""
    previous: Mapping[str, str] = {}
    """step -> the key the pipeline's previous run used: what a miss is explained by"""


class Decision(msgspec.Struct):
    """What to do with one step and why; a hit or pin carries the entry it is served from."""

    action: str
    """"hit", "run" or "pinned"."""
    kind: ReasonKind
    reason: str
    recipe: Recipe | None = None
    entry: Entry | None = None
    changed: tuple[str, ...] = ()
    diff: str | None = None
    warnings: tuple[tuple[str, str | None], ...] = ()
    """(message, step or None) to report as run warnings."""


def stale(
    step: Step, entry: Entry, invalidated_ns: int | None, clock: Clock, recipe: Recipe | None
) -> Decision | None:
    """Why `entry`, found under the step's key, must not be used (invalidated, expired), or
    None when it is fresh. The clock is read only for a step with a TTL."""
    if invalidated_ns is not None and entry.created_ns < invalidated_ns:
        return Decision("run", ReasonKind.INVALIDATED, "invalidated", recipe)
    if step.ttl is not None:
        age = clock() - entry.created
        if age > step.ttl:
            reason = f"expired (ttl {step.ttl:g}s, age {age:.0f}s)"
            return Decision("run", ReasonKind.EXPIRED, reason, recipe)
    return None


def decide(
    step: Step,
    recipe: Recipe,
    ident: CodeIdentity | None,
    store: EntryReader,
    workspace: WorkspaceSnapshot,
    clock: Clock,
    producers: Mapping[str, str],
    world: WorldCheck | None = None,
) -> Decision:
    """Decide a step whose inputs are all known: a pin wins, then a fresh entry under its key
    whose reads still hold (`world`); otherwise it runs, and the reason says what changed
    since its baseline entry, or which file it read changed."""
    warnings: tuple[tuple[str, str | None], ...] = ()
    pinned_key = workspace.pins.get(step.name)
    if pinned_key is not None:
        pinned = store.get_entry(pinned_key)
        if pinned is not None:
            return _pinned(step, recipe, ident, pinned, store, producers)
        warnings = ((f"the pinned entry of {step.name} is gone; running it instead", step.name),)
    decision = _by_key(step, recipe, ident, store, workspace, clock, producers, world)
    if warnings:
        decision.warnings = warnings + decision.warnings
    return decision


def _by_key(
    step: Step,
    recipe: Recipe,
    ident: CodeIdentity | None,
    store: EntryReader,
    workspace: WorkspaceSnapshot,
    clock: Clock,
    producers: Mapping[str, str],
    world: WorldCheck | None,
) -> Decision:
    key = recipe.key()
    entry = store.get_entry(key)
    if entry is not None:
        reason = stale(step, entry, workspace.invalidated.get(step.name), clock, recipe)
        if reason is not None:
            return reason
        change = world(entry) if world is not None and entry.reads else None
        if change is not None:
            return Decision(
                "run", ReasonKind.FILE_CHANGED, change.reason, recipe, None, (change.path,),
                change.diff,
            )  # fmt: skip
        return Decision("hit", ReasonKind.CACHED, "cached", recipe, entry)
    if key in store.unreadable:
        return Decision(
            "run",
            ReasonKind.CORRUPT_ENTRY,
            "corrupt cache entry: unreadable metadata",
            recipe,
            warnings=(
                (f"corrupt cache entry for {step.name} (unreadable metadata); running it", None),
            ),
        )
    return explain_miss(step, recipe, ident, store, workspace, producers)


def plan_behind(
    step: Step,
    ident: CodeIdentity | None,
    upstream: str,
    store: EntryReader,
    workspace: WorkspaceSnapshot,
    producers: Mapping[str, str],
    context_fps: Callable[[], dict[str, str]],
    context_values: Mapping[str, object] | None = None,
) -> Decision:
    """Plan a step whose inputs are not known yet because `upstream` will run first.

    Its own code and context can still be compared with its baseline entry, and a pin still
    wins. `context_fps` is called only when that comparison is made; `context_values` (the
    run's context) lets the reason show a changed value.
    """
    pinned = store.get_entry(workspace.pins.get(step.name, ""))
    if pinned is not None:
        return Decision("pinned", ReasonKind.PINNED, "pinned", None, pinned)
    newest = baseline(step, store, workspace)
    if newest is None:
        return Decision("run", ReasonKind.NEW_STEP, "new step")
    will_run = f"upstream {upstream} will run"
    known = Recipe(
        pipeline=workspace.pipeline,
        step=step.name,
        policy=step.policy.value,
        outputs=step.outputs,
        code_hash=ident.hash if ident and step.policy is CachePolicy.CODE_HASH else None,
        inputs=dict(newest.recipe.inputs),
        context=context_fps(),
        custom_key=newest.recipe.custom_key,
        context_values=context_values,
    )
    found = compare(step, known, ident, newest, store, producers)
    if found.kind is None:
        return Decision("run", ReasonKind.UPSTREAM_CHANGED, will_run)
    text = f"{found.text}; {will_run}"
    return Decision("run", found.kind, text, None, None, found.changed, found.diff)


def _pinned(
    step: Step,
    recipe: Recipe,
    ident: CodeIdentity | None,
    pinned: Entry,
    store: EntryReader,
    producers: Mapping[str, str],
) -> Decision:
    if pinned.key == recipe.key():
        return Decision("pinned", ReasonKind.PINNED, "pinned", recipe, pinned)
    since = compare(step, recipe, ident, pinned, store, producers)
    reason = f"pinned; since the pin: {since.text}" if since.kinds else "pinned"
    return Decision("pinned", ReasonKind.PINNED, reason, recipe, pinned, since.changed, since.diff)


def baseline(step: Step, store: EntryReader, workspace: WorkspaceSnapshot) -> Entry | None:
    """The entry a miss is explained against: the one this pipeline's previous run used,
    else (no previous run, or that entry is gone) the step's newest."""
    key = workspace.previous.get(step.name)
    entry = store.get_entry(key) if key else None
    return entry or store.newest_entry(workspace.pipeline, step.name)


def explain_miss(
    step: Step,
    recipe: Recipe,
    ident: CodeIdentity | None,
    store: EntryReader,
    workspace: WorkspaceSnapshot,
    producers: Mapping[str, str],
) -> Decision:
    """A step with no entry under its key runs; the reason is what changed since its baseline."""
    newest = baseline(step, store, workspace)
    if newest is None:
        return Decision("run", ReasonKind.NEW_STEP, "new step", recipe)
    found = compare(step, recipe, ident, newest, store, producers)
    if not found.kinds:
        mark = workspace.invalidated.get(step.name)
        if mark is not None and newest.created_ns < mark:
            return Decision("run", ReasonKind.INVALIDATED, "invalidated", recipe)
        return Decision("run", ReasonKind.NEW_STEP, "not in the cache (evicted)", recipe)
    assert found.kind is not None
    return Decision("run", found.kind, found.text, recipe, None, found.changed, found.diff)


def compare(
    step: Step,
    recipe: Recipe,
    ident: CodeIdentity | None,
    entry: Entry,
    store: EntryReader,
    producers: Mapping[str, str],
) -> explain.Explanation:
    """`explain.compare` for one step: `producers` maps every output name to its step."""
    return explain.compare(
        recipe,
        ident.functions if ident else {},
        ident.sources if ident else {},
        entry,
        {name: producers[name] for name in step.inputs if name in producers},
        store.source,
        home=getattr(step.func, "__module__", "") or "",
    )
