"""Keeping the local store in shape: listings and stats for people, eviction to its size
budget, garbage collection and clearing."""

from __future__ import annotations

from typing import Any

from ...history.totals import hit_rate
from .. import files
from ..protocols import EntryInfo
from .database import (
    CURRENT,
    INVALIDATED,
    PINS,
    STATS,
    heals_damage,
    table_of,
    versions_key,
)
from .entries import LocalEntries
from .workspace import LocalWorkspace


class LocalUpkeep(LocalEntries, LocalWorkspace):
    """What `flowyml-tui cache` and `CacheStore` users call to see and tidy the store."""

    @heals_damage
    def evict(self, size_limit: int | None = None) -> list[str]:
        """Drop least recently used entries until under budget; never a pinned or newest one."""
        limit = self.size_limit if size_limit is None else size_limit
        infos = self.entries()
        usage = self.disk_usage()
        total = usage["total"]
        if total > limit and (usage["orphans"] or usage["set_aside"]):
            removed = self.gc()
            total -= removed["bytes"] + removed["set_aside_bytes"]
        protected = set(self.pins().values())
        for pipeline, step in {(info.pipeline, info.step) for info in infos}:
            versions = self._versions(pipeline, step)
            if versions:
                protected.add(versions[-1])
        evicted = []
        for info in sorted(infos, key=lambda i: i.last_used):
            if total <= limit:
                break
            if info.key in protected:
                continue
            self.delete_entry(info.key)
            total -= info.size
            evicted.append(info.key)
        return evicted

    @heals_damage
    def versions(self, step: str, *, pipeline: str | None = None) -> list[str]:
        """Entry keys of a step, oldest first (`pipeline` needed only if the name is shared)."""
        return self._versions(self.resolve(step, pipeline), step)

    @heals_damage
    def steps(self) -> list[str]:
        """Step names with entries or a pin, of every pipeline."""
        return sorted({step for _, step in self.scopes()})

    @heals_damage
    def pipelines(self) -> list[str]:
        """Pipelines with entries or pins in this cache dir."""
        return sorted({pipeline for pipeline, _ in self.scopes()})

    @heals_damage
    def entries(self, step: str | None = None, *, pipeline: str | None = None) -> list[EntryInfo]:
        """Cached versions, oldest first, of one step, of one pipeline's steps, or of all."""
        if step is not None:
            scopes = [(self.resolve(step, pipeline), step)]
        else:
            scopes = [s for s in self.scopes() if pipeline is None or s[0] == pipeline]
        pins = set(self.pins().values())
        last_used = self.last_used()
        infos = []
        for owner, name in scopes:
            for key in self._versions(owner, name):
                entry = self.get_entry(key)
                if entry is None:
                    continue
                infos.append(
                    EntryInfo(
                        key=key,
                        step=name,
                        pipeline=owner,
                        created_at=entry.created,
                        last_used=last_used.get(key, entry.created),
                        size=sum(entry.sizes),
                        duration_seconds=entry.duration,
                        pinned=key in pins,
                        code_hash=entry.code_hash,
                    )
                )
        return infos

    @heals_damage
    def stats(self) -> dict[str, Any]:
        """Entries, bytes, hits and misses, in total and per (pipeline, step).

        ``steps`` is a list of rows, each naming its ``pipeline`` and ``step``.
        """
        self._commit_waiting_here()
        counters = self._meta(STATS)
        pins = self._meta(PINS)
        rows: dict[tuple[str, str], dict[str, Any]] = {}

        def row(pipeline: str, step: str) -> dict[str, Any]:
            return rows.setdefault(
                (pipeline, step), {"pipeline": pipeline, "step": step, "entries": 0, "bytes": 0}
            )

        for info in self.entries():
            found = row(info.pipeline, info.step)
            found["entries"] += 1
            found["bytes"] += info.size
        for pipeline, table in counters.items():
            for step in table_of(table):
                row(pipeline, step)
        for pipeline, table in pins.items():
            for step in table_of(table):
                row(pipeline, step)
        for (pipeline, step), found in rows.items():
            hits, misses = table_of(counters.get(pipeline)).get(step, [0, 0])
            found.update(hits=hits, misses=misses, pinned=step in table_of(pins.get(pipeline)))
        ordered = [rows[scope] for scope in sorted(rows)]
        hits, misses = sum(r["hits"] for r in ordered), sum(r["misses"] for r in ordered)
        return {
            "path": str(self.path),
            "entries": sum(r["entries"] for r in ordered),
            "bytes": sum(r["bytes"] for r in ordered),
            "disk": self.disk_usage(),
            "hits": hits,
            "misses": misses,
            "hit_rate": hit_rate(hits, misses),  # the one definition: engine/history/totals.py
            "pipelines": sorted({r["pipeline"] for r in ordered}),
            "steps": ordered,
        }

    @heals_damage
    def clear(self) -> None:
        """Forget everything: entries, pins, invalidations, counters and every value file.

        Files go first, without the database: on a full disk that frees the space sqlite
        then needs to delete its rows.
        """
        self._commit_waiting_here()
        self._wipe()

    @heals_damage
    def gc(self) -> dict[str, int]:
        """Delete value files no entry points to and metadata rows that cannot be read.

        Holds the write lock while it looks, so a file another process is writing right now
        (its row not yet committed) is never taken for an orphan. Needs no free disk space.
        Damaged databases set aside by earlier opens go too. Returns ``{"files": n,
        "bytes": n, "rows": n, "set_aside": n, "set_aside_bytes": n}`` removed.
        """
        found = self._collect()
        set_aside, set_aside_bytes = files.remove_set_aside(self.path / "store")
        return {**found, "set_aside": set_aside, "set_aside_bytes": set_aside_bytes}

    @heals_damage
    def disk_usage(self) -> dict[str, int]:
        """Every byte under the cache dir: ``total``, and ``values`` (what entries point to),
        ``database``, ``orphans`` (files nothing points to: `gc` removes them), ``records``
        (run records) and ``other``."""
        return files.usage(self.path, files.referenced(self._cache._sql))

    @heals_damage
    def clear_step(self, step: str, *, pipeline: str | None = None) -> int:
        """Forget one step's entries, pin and counters; returns how many entries went."""
        self._commit_waiting_here()
        pipeline = self.resolve(step, pipeline)
        keys = self._versions(pipeline, step)
        for key in keys:
            self.delete_entry(key)
        with self._cache.transact():
            self._cache.delete(versions_key(pipeline, step))
            for name in (PINS, STATS, INVALIDATED, CURRENT):
                self._update(name, pipeline, drop=[step])
            self._forget_costs(pipeline, step)
        return len(keys)

    @heals_damage
    def clear_pipeline(self, pipeline: str) -> int:
        """Forget every step of one pipeline; returns how many entries went."""
        return sum(
            self.clear_step(step, pipeline=pipeline) for p, step in self.scopes() if p == pipeline
        )
