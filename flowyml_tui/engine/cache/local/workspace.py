"""The workspace half of the local store (`Workspace`): which pipeline a step name means,
pins, invalidation marks, the entry each step's last run used, and the hit/miss counters.
Never shared."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ...errors import AmbiguousStepError, UnknownStepError
from .. import tables
from ..protocols import RunStart
from .database import (
    COSTS,
    CURRENT,
    INVALIDATED,
    JSON_ENCODER,
    PINS,
    STATS,
    USED,
    VERDICTS,
    VERSIONS,
    LocalDatabase,
    Waiting,
    WriteMark,
    heals_damage,
    table_of,
)

COUNT_EVERY_SECONDS = 1.0
"""A replayed run's counts wait at most this long for its handle's next commit, while the
process keeps running: a fully cached re-run in a loop commits once a second, not each time
(the commit was a fifth of a cached 100-step run, `benchmarks/bench_peers.py`)."""

_NONE_YET = (0, 0)
"""(hits, misses) of a step not counted before."""

_WAITING: set[LocalWorkspace] = set()
"""Handles with counts waiting, kept until they commit them: at the latest as the process
exits, so a handle dropped meanwhile loses nothing."""


@atexit.register
def _commit_waiting_counts() -> None:
    for handle in list(_WAITING):
        with contextlib.suppress(Exception):  # the exit goes on whatever the disk says
            handle.commit_counts()


class _Moved:
    """The steps whose current entry a commit changes: what each now uses, and when the
    entries they stop using were last used (now)."""

    __slots__ = ("current", "now", "stamps", "steps")

    def __init__(self, current: dict[str, Any], now: float) -> None:
        self.current = current
        self.now = now
        self.steps: dict[str, dict[str, str]] = {}
        self.stamps: dict[str, float] = {}

    def use(self, pipeline: str, used: dict[str, str]) -> None:
        before = table_of(self.current.get(pipeline))
        changed = self.steps.get(pipeline, {})
        for step, key in used.items():
            was = changed.get(step, before.get(step))
            if was != key:
                if was is not None:
                    self.stamps[was] = self.now
                changed[step] = key
        if changed:
            self.steps[pipeline] = changed


class LocalWorkspace(LocalDatabase):
    """Per-checkout state: pins, marks, counters and what each step last used."""

    @heals_damage
    def scopes(self) -> list[tuple[str, str]]:
        """Every (pipeline, step) that has entries or a pin, sorted."""
        found = set()
        for key in self._keys(VERSIONS):
            try:
                pipeline, step = json.loads(key[len(VERSIONS) :])
            except (TypeError, ValueError):
                continue
            found.add((str(pipeline), str(step)))
        for pipeline, table in self._meta_view(PINS).items():
            found.update((pipeline, step) for step in table_of(table))
        return sorted(found)

    @heals_damage
    def resolve(self, step: str, pipeline: str | None = None) -> str:
        """The pipeline a step name belongs to: `pipeline` if given, else the only one with it."""
        if pipeline is not None:
            return pipeline
        owners = sorted({p for p, s in self.scopes() if s == step})
        if len(owners) == 1:
            return owners[0]
        if not owners:
            raise UnknownStepError(
                f"step {step!r} has no cached result in {self.path}; run its pipeline once first"
            )
        raise AmbiguousStepError(
            f"step {step!r} is in several pipelines of the cache at {self.path} "
            f"({', '.join(owners)}); name one with --pipeline NAME (pipeline=...)"
        )

    @heals_damage
    def pins(self, pipeline: str | None = None) -> dict[str, str]:
        """Pinned steps and the entry key each is pinned to, of one pipeline or of all."""
        table = self._meta_view(PINS)
        if pipeline is not None:
            return table_of(table.get(pipeline))
        return {step: key for inner in table.values() for step, key in table_of(inner).items()}

    @heals_damage
    def pin(self, step: str, key: str | None = None, *, pipeline: str | None = None) -> str:
        """Pin a step to `key`, else to the entry its last run used, else its newest entry."""
        try:
            pipeline = self.resolve(step, pipeline)
        except AmbiguousStepError:
            raise
        except UnknownStepError:
            raise UnknownStepError(
                f"step {step!r} has no cached result to pin; run the pipeline once first"
            ) from None
        if key is None:
            key = self.current(pipeline).get(step) or next(
                iter(reversed(self._versions(pipeline, step))), None
            )
        if key is None or self.get_entry(key) is None:
            raise UnknownStepError(
                f"step {step!r} of pipeline {pipeline!r} has no cached result to pin; "
                "run the pipeline once first"
            )
        with self._cache.transact():
            self._update(PINS, pipeline, {step: key})
        return key

    @heals_damage
    def unpin(self, step: str, *, pipeline: str | None = None) -> bool:
        """Unpin a step; False if it was not pinned."""
        pipeline = self.resolve(step, pipeline)
        with self._cache.transact():
            return self._update(PINS, pipeline, drop=[step])

    @heals_damage
    def invalidate(self, steps: Iterable[str], *, pipeline: str | None = None) -> None:
        """Make the next run of these steps execute (and drop their pins, which would hide it)."""
        now = time.time_ns()
        names = list(steps)
        owners = {name: self._owner(name, pipeline) for name in names}
        with self._cache.transact():
            for name, owner in owners.items():
                if owner is not None:
                    self._update(INVALIDATED, owner, {name: now})
                    self._update(PINS, owner, drop=[name])

    def _owner(self, step: str, pipeline: str | None) -> str | None:
        """Like `resolve`, but None for a step the cache has never seen (nothing to mark)."""
        try:
            return self.resolve(step, pipeline)
        except AmbiguousStepError:
            raise
        except UnknownStepError:
            return None

    @heals_damage
    def invalidations(self, pipeline: str) -> dict[str, int]:
        """Step -> time (ns) before which its entries no longer count, for one pipeline."""
        return self._invalidations(pipeline)

    @heals_damage
    def begin_run(self, pipeline: str) -> RunStart:
        mark = self.write_mark()
        self._refresh(mark)
        return RunStart(
            pins=table_of(self._meta_view(PINS, mark).get(pipeline)),
            invalidations=self._invalidations(pipeline, mark),
            current=table_of(self._meta_view(CURRENT, mark).get(pipeline)),
            verdicts=self._verdicts(pipeline, mark),
        )

    def _invalidations(self, pipeline: str, mark: WriteMark | None = None) -> dict[str, int]:
        marks = table_of(self._meta_view(INVALIDATED, mark).get(pipeline))
        return {step: int(ns) for step, ns in marks.items()}

    def _verdicts(self, pipeline: str, mark: WriteMark | None = None) -> tables.CacheVerdicts:
        found = self._meta_view(VERDICTS, mark).get(pipeline)
        return found if isinstance(found, tables.CacheVerdicts) else tables.CacheVerdicts()

    def record_run(
        self, pipeline: str, used: dict[str, str], hits: Iterable[str], misses: Iterable[str]
    ) -> None:
        self._record_run(pipeline, used, hits, misses)

    def count_replay(self, pipeline: str, used: dict[str, str], hits: Sequence[str]) -> None:
        """A replayed run's `record_run`, committed with this handle's next commit: at once
        if the last was `COUNT_EVERY_SECONDS` ago or more, else by the next run, `stats`,
        `close` or the process's exit, whichever comes first. Its record is on disk already;
        a process killed in that second loses only these hit counts."""
        self._wait(pipeline, used, tuple(hits), 1)
        if time.monotonic() - self._committed_at >= COUNT_EVERY_SECONDS:
            self.commit_counts()
        else:
            _WAITING.add(self)

    def commit_counts(self) -> None:
        """Commit the replayed runs' counts still waiting (`count_replay`), if any."""
        if self._own_waiting():
            self._record_run(None, {}, (), ())
        _WAITING.discard(self)

    def _own_waiting(self) -> dict[str, Waiting]:
        """Pipeline -> what its replays in this process wait to commit: a forked child drops
        its parent's, which only the parent commits."""
        if self._waiting_pid != os.getpid():
            self._waiting, self._waiting_pid = {}, os.getpid()
        return self._waiting

    def _wait(self, pipeline: str, used: dict[str, str], hits: tuple[str, ...], n: int) -> None:
        """Add `n` replays that used these entries and hit these steps to what waits for
        the next commit. Replays of one run hit the same steps: they are counted by that
        tuple, so a replay costs the same whatever the pipeline's size."""
        waiting = self._own_waiting().get(pipeline)
        if waiting is None:
            waiting = self._waiting[pipeline] = Waiting({}, {})
        waiting.used.update(used)
        waiting.runs[hits] = waiting.runs.get(hits, 0) + n

    def _commit_waiting_here(self) -> None:
        """Commit the counts waiting in this process's handles on this cache dir: before the
        counters are read (`stats`), or a clear leaves them counting what it forgot."""
        for handle in list(_WAITING):
            if handle.path == self.path:
                handle.commit_counts()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a store that cannot write still closes
            self.commit_counts()
        super().close()

    @heals_damage
    def _record_run(
        self,
        pipeline: str | None,
        used: dict[str, str],
        hits: Iterable[str],
        misses: Iterable[str],
    ) -> bool:
        """Remember which entry each step used and count hits/misses: one write per run,
        with the replayed runs' counts waiting (`count_replay`) in the same transaction.

        An entry's last use is stamped when it stops being its step's current entry; a
        current entry counts as used now. So a run that changes nothing rewrites only the
        counters. True when a step used a new entry or missed: the store may have grown.
        """
        waiting, self._waiting = self._own_waiting(), {}
        try:
            return self._commit_runs(waiting, pipeline, used, hits, misses)
        except BaseException:
            for name, replays in waiting.items():  # they wait for the next commit
                for hits, n in replays.runs.items():
                    self._wait(name, replays.used, hits, n)
            raise

    def _commit_runs(
        self,
        waiting: dict[str, Waiting],
        pipeline: str | None,
        used: dict[str, str],
        hits: Iterable[str],
        misses: Iterable[str],
    ) -> bool:
        now = time.time()
        with self._cache.transact():
            before = self.write_mark()  # the write lock is held: no other commit until ours
            current = self._meta_view(CURRENT, before)
            counters = self._counters_to_update(before)
            moved = _Moved(current, now)
            for name, replays in waiting.items():
                moved.use(name, replays.used)
                mine = table_of(counters.get(name))
                for hits, n in replays.runs.items():
                    for step in hits:
                        hit, missed = mine.get(step, _NONE_YET)
                        mine[step] = (hit + n, missed)
                counters[name] = mine
            wrote = False
            if pipeline is not None:
                moved.use(pipeline, used)
                mine = table_of(counters.get(pipeline))
                for step in hits:
                    hit, missed = mine.get(step, _NONE_YET)
                    mine[step] = (hit + 1, missed)
                for step in misses:
                    hit, missed = mine.get(step, _NONE_YET)
                    mine[step] = (hit, missed + 1)
                    wrote = True
                counters[pipeline] = mine
            if moved.steps:
                last_used = self._meta(USED)
                last_used.update(moved.stamps)
                for steps in moved.steps.values():
                    for key in steps.values():
                        last_used.pop(key, None)
                self._set_meta(USED, last_used)
                for name, steps in moved.steps.items():
                    self._update(CURRENT, name, steps)
            row = JSON_ENCODER.encode(counters).decode()
            self._set_text(STATS, row)
        if not self._cache._con.in_transaction:  # committed (a rollback takes a row back)
            self._committed_at = time.monotonic()
            after = self._mark_after_own_commit(before)
            self._counters = (after, row, counters)
            written = (STATS, USED, CURRENT) if moved.steps else (STATS,)
            self._views_kept(before, after, written)
        return wrote or bool(moved.steps)

    @heals_damage
    def cache_costs(self, pipeline: str) -> dict[str, dict[str, float]]:
        """Step -> its cache's last measured figures (`breakeven.py`)."""
        return table_of(self._meta_view(COSTS).get(pipeline))

    @heals_damage
    def cache_verdicts(self, pipeline: str) -> tables.CacheVerdicts:
        """The pipeline's last measured check time and its flagged steps."""
        return self._verdicts(pipeline)

    @heals_damage
    def record_cache_costs(
        self,
        pipeline: str,
        figures: dict[str, dict[str, float]],
        verdicts: tables.CacheVerdicts | None,
    ) -> None:
        """Replace these steps' figures and (unless None) the verdicts: one transaction."""
        with self._cache.transact():
            if figures:
                self._update(COSTS, pipeline, figures)
            if verdicts is not None:
                table = self._meta(VERDICTS)
                table[pipeline] = verdicts
                self._set_meta(VERDICTS, table)

    def _forget_costs(self, pipeline: str, step: str) -> None:
        """Drop one step's cost figures and flag (inside the caller's transaction)."""
        self._update(COSTS, pipeline, drop=[step])
        table = self._meta(VERDICTS)
        verdicts = table.get(pipeline)
        if verdicts is not None and verdicts.flags.pop(step, None) is not None:
            self._set_meta(VERDICTS, table)

    def _counters_to_update(self, mark: WriteMark) -> dict[str, Any]:
        """The counters table, inside `record_run`'s transaction, to change and write back.

        A 1000-step pipeline's row costs ~0.3 ms to decode and every run rewrites it, so the
        copy this handle last wrote is reused while the row is still exactly that one: nothing
        written to the database since (`write_mark`), else the row read equal to it. It is
        taken out of the memo first: a write that fails half-way cannot leave changed counters
        behind as if they were the stored ones.
        """
        memo, self._counters = self._counters, None
        if memo is not None and memo[0] == mark:  # nothing written since ours
            return memo[2]
        raw = self._cache.get(STATS)
        if memo is not None and raw is not None and memo[1] == raw:
            return memo[2]
        return self._decode_meta(STATS, raw)

    @heals_damage
    def last_used(self) -> dict[str, float]:
        """Entry key -> when it was last used; current entries count as used now."""
        now = time.time()
        stamps = self._meta(USED)
        for table in self._meta_view(CURRENT).values():
            for key in table_of(table).values():
                stamps[key] = now
        return stamps
