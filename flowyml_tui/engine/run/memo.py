"""The whole-run memo: a fully cached run, replayed when nothing it depended on changed.

A fully cached run decides every step from metadata it has already read: the same code
identities (the key plans kept on the graph), the same context fingerprints, the same entries
under the same keys. When the previous run of this graph in this process was fully cached, the
next one need not digest a key or look an entry up again: it replays that run's results and
events under its own run id, and is still recorded as a run of its own.

It is replayed only when every check the hit path makes still holds, each checked once for the
whole run, not once per step (issue 26, `benchmarks/bench_peers.py`):

- the same store handle, whose deletion counter (`EntryStore.generation`, read at the run's
  start) has not moved: no entry was deleted, cleared or evicted by any process;
- the same pins and invalidation marks of this pipeline (read at the run's start);
- the same fingerprint for every context value a step read;
- every file, folder or database a result read unchanged (`Keying.world_change`);
- the same graph: the same steps, so the same code identities (a step whose key plan is not
  kept on the graph, code without source, makes the run unmemoisable).

Steps with a `condition=` (user code decides), a `ttl=` (the clock decides), a key function,
the cache off, or a run with any warning are never memoised: they take the full path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import msgspec

from ..cache import Store
from ..cache.entry import Entry
from ..collector import collection_paused
from ..define.graph import Graph
from ..events import Event, RunStarted, StepFinished, StepStatus
from ..hashing import Unfingerprintable, fingerprint
from ..result import StepResult
from ..step import CachePolicy
from .decide import WorkspaceSnapshot
from .keying import Keying
from .ledger import Replayed
from .settled import settle_what_exists

_CACHED = StepStatus.CACHED
_NOT_MEMOISED = (CachePolicy.DISABLED, CachePolicy.KEY_FN)
_replace = msgspec.structs.replace


class _Replay(msgspec.Struct, frozen=True, gc=False):
    """One fully cached run, as the next one replays it."""

    replayed: Replayed
    """What each replay tells the ledger: the run kept and what its results add up to."""
    store: Any
    """The handle it was found in: another handle, even on the same dir, replays nothing."""
    generation: int
    pins: dict[str, str]
    invalidated: dict[str, int]
    context_fps: dict[str, str]
    steps: tuple[tuple[str, StepFinished, StepResult], ...]
    """(step, its `StepFinished`, its result) in the order they were reported."""
    located: dict[str, Entry]
    output_fps: dict[str, str]
    used: dict[str, str]
    read: tuple[Entry, ...]
    """The entries whose results read files, folders or databases: checked on every replay."""


class RunMemo:
    """The memo of one run's graph: `replay` it if it still holds, `keep` what this run found."""

    def __init__(
        self,
        *,
        pipeline: str,
        graph: Graph,
        store: Store | None,
        workspace: WorkspaceSnapshot,
        context: Mapping[str, Any],
        keys: Keying,
        code_hash_mode: str,
    ) -> None:
        """Built after the store's `refresh`: its generation now is what this run decides by."""
        self._graph = graph
        self._store = store
        self._workspace = workspace
        self._context = context
        self._keys = keys
        # Kept on the graph, which is rebuilt whenever the steps or the context's names change.
        self._slot = ("run-memo", pipeline, code_hash_mode)
        self._generation = store.generation if store is not None else None

    # -- replaying -------------------------------------------------------------------------

    def replay(
        self,
        *,
        run_id: str,
        results: MutableMapping[str, StepResult],
        events: list[Event],
        sink: Callable[[Event], None] | None,
        located: dict[str, Entry],
        used: dict[str, str],
    ) -> Replayed | None:
        """Report the previous run's results again under `run_id` if nothing it depended on
        changed, and say which run that was; None (nothing reported) otherwise."""
        memo = self._graph.memo.get(self._slot)
        if memo is None or not self._holds(memo):
            return None
        keys = self._keys
        keys.context_fps.update(memo.context_fps)
        keys.output_fps.update(memo.output_fps)
        located.update(memo.located)
        used.update(memo.used)
        append = events.append
        # Nothing below makes a reference cycle, so pausing the collector frees nothing late;
        # left running, each replay paid for collections that walk every object of the
        # pipeline, more the bigger it is (a 10,000-step replay: `bench_scale.py`).
        with collection_paused():
            for name, finished, result in memo.steps:
                event = _replace(finished, run_id=run_id)
                append(event)
                if sink is not None:
                    sink(event)
                # a result of its own: `RunResult` links it to this run's outputs, callers may
                # change its lists
                results[name] = _replace(
                    result,
                    logs=[],
                    warnings=[],
                    output_fingerprints=dict(result.output_fingerprints),
                )
            settle_what_exists()  # what it made, no cycle among it, is not scanned
        return memo.replayed

    def _holds(self, memo: _Replay) -> bool:
        store, workspace = self._store, self._workspace
        if store is None or store is not memo.store or self._generation != memo.generation:
            return False
        if workspace.pins != memo.pins or workspace.invalidated != memo.invalidated:
            return False
        context = self._context
        for name, fp in memo.context_fps.items():
            if name not in context:
                return False
            try:
                if fingerprint(context[name]) != fp:
                    return False
            except Unfingerprintable:
                return False
        world_change = self._keys.world_change
        return all(world_change(entry) is None for entry in memo.read)

    # -- keeping ---------------------------------------------------------------------------

    def keep(
        self,
        *,
        results: Mapping[str, StepResult],
        events: list[Event],
        located: Mapping[str, Entry],
        used: Mapping[str, str],
    ) -> None:
        """Keep this run for the next one if it was fully cached and memoisable; else forget
        whatever an earlier run left (it no longer describes the last run)."""
        memo = self._memoisable(results, events, located, used)
        if memo is None:
            self._graph.memo.pop(self._slot, None)
        else:
            self._graph.memo[self._slot] = memo

    def _memoisable(
        self,
        results: Mapping[str, StepResult],
        events: list[Event],
        located: Mapping[str, Entry],
        used: Mapping[str, str],
    ) -> _Replay | None:
        order = self._graph.order
        store, generation = self._store, self._generation
        if store is None or generation is None or store.layered or len(results) != len(order):
            return None
        if store.generation != generation:  # this run deleted an entry (a corrupt value)
            return None
        # RunStarted, then one StepFinished per step: no warning, no step that ran
        if len(events) != len(order) + 1 or not isinstance(events[0], RunStarted):
            return None
        plans, by_name = self._keys.plans, {step.name: step for step in order}
        steps = []
        for event in events[1:]:
            if not isinstance(event, StepFinished) or event.status != "cached":
                return None
            step = by_name[event.step]
            result = results.get(step.name)
            if result is None or result.status is not _CACHED or result.calls:
                return None
            if step.condition is not None or step.ttl is not None:
                return None
            if step.policy in _NOT_MEMOISED:
                return None
            plan = plans.get(step.name)
            if plan is None or plan.step is not step:  # its code identity is not kept
                return None
            # a copy: the caller's result gets linked to its run's outputs, and may be changed
            steps.append((step.name, event, _replace(result)))
        outputs = [output for step in order for output in step.outputs]
        if any(output not in located for output in outputs):
            return None
        kept = {output: located[output] for output in outputs}
        read = {entry.key: entry for entry in kept.values() if entry.reads}
        saved = 0.0
        for _, _, result in steps:  # in the order a replay reports them, as the ledger adds
            saved += result.saved_seconds
        return _Replay(
            replayed=Replayed(
                run_id=events[0].run_id,
                hits=tuple(name for name, _, _ in steps),
                saved_seconds=saved,
            ),
            store=store,
            generation=generation,
            pins=dict(self._workspace.pins),
            invalidated=dict(self._workspace.invalidated),
            context_fps=dict(self._keys.context_fps),
            steps=tuple(steps),
            located=kept,
            output_fps=dict(self._keys.output_fps),
            used=dict(used),
            read=tuple(read.values()),
        )
