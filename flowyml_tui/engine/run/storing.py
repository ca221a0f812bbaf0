"""Writing a step's entry: its outputs' bytes, its code identity, its recipe and what it read.

A write never fails a run: a full disk or a vanished cache dir is a warning on the step and
the run goes on uncached. A step whose read file changed while it ran gets no entry at all,
since no digest can say which bytes it saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..cache import NotCacheable, Store, checksum, serialize_outputs
from ..cache.entry import Entry
from ..cache.keys import Recipe
from ..describe.preview import preview
from ..errors import CacheFullError
from ..events import ReasonKind
from ..reads.model import Read
from ..reads.snapshot import ReadSnapshot
from ..result import StepResult
from ..step import Step
from .breakeven import CostMeter
from .keying import Keying

Warn = Callable[[str, str | None], None]
"""Reports a run warning: (message, step or None)."""


class EntryWriter:
    """Writes the entries of one run's executed steps into its store."""

    def __init__(
        self, *, pipeline: str, store: Store, keys: Keying, warn: Warn, meter: CostMeter
    ) -> None:
        """`meter` is told each step's compute time and what its entry cost to write, and
        decides whether a `cache="auto"` step is written at all."""
        self.pipeline = pipeline
        self.store = store
        self.keys = keys
        self.warn = warn
        self.meter = meter

    def _wanted(self, step: Step, result: StepResult) -> bool:
        """The step ran: its time is measured; an auto step is stored only while it pays."""
        self.meter.executed(step.name, result.duration_seconds)
        return not step.auto_cache or self.meter.auto_stores(step, result)

    def from_values(
        self,
        step: Step,
        recipe: Recipe,
        values: tuple[Any, ...],
        fps: list[str],
        result: StepResult,
        reads: ReadSnapshot | None,
    ) -> Entry | None:
        """Pickle the outputs here and write the entry; None when it was not written."""
        if not self._wanted(step, result):
            return None
        began = time.perf_counter()
        pickled = serialize_outputs(step.name, step.outputs, values)
        if isinstance(pickled, NotCacheable):
            self.not_cacheable(step, pickled, result)
            return None
        blobs, formats = pickled
        pickling = time.perf_counter() - began
        previews = [preview(v) for v in values]
        return self._write(
            step, recipe, blobs, formats, previews, fps, result, None, reads, pickling
        )

    def not_cacheable(self, step: Step, problem: NotCacheable, result: StepResult) -> None:
        """The step's outputs cannot be pickled: warn, and let its reason say so. No hit can
        ever serve it, so its cost is not weighed against one."""
        self.meter.not_storable(step.name)
        result.reason = problem.explain(result.reason, result.reason_kind == ReasonKind.NEW_STEP)
        result.warnings.append(problem.warning)
        self.warn(problem.warning, step.name)

    def from_blobs(
        self,
        step: Step,
        recipe: Recipe,
        blobs: list[bytes],
        formats: list[str],
        previews: list[str],
        fps: list[str],
        result: StepResult,
        checksums: list[str] | None = None,
        reads: ReadSnapshot | None = None,
    ) -> Entry | None:
        """Write the entry from its outputs' bytes (pickled on a worker), with what the step
        read; not at all if a file it read changed while it ran."""
        if not self._wanted(step, result):
            return None
        return self._write(
            step, recipe, blobs, formats, previews, fps, result, checksums, reads, 0.0
        )

    def _write(
        self,
        step: Step,
        recipe: Recipe,
        blobs: list[bytes],
        formats: list[str],
        previews: list[str],
        fps: list[str],
        result: StepResult,
        checksums: list[str] | None,
        reads: ReadSnapshot | None,
        pickling: float,
    ) -> Entry | None:
        """`pickling`: the seconds the blobs took to make here (0 when a worker made them)."""
        began = time.perf_counter()
        stored_reads: list[Read] = []
        texts: dict[str, str] = {}
        if reads is not None:
            moved = self.keys.moved_reason(step, reads)
            if moved is not None:  # the result is this run's only: no entry says it is valid
                result.reason = f"{result.reason}; not cached: {moved}"
                result.warnings.append(f"step {step.name} not cached: {moved}")
                self.warn(f"step {step.name} not cached: {moved}", step.name)
                return None
            stored_reads, texts = self.keys.stored_reads(reads)
        ident = self.keys.code(step)
        now = time.time_ns()
        entry = Entry(
            key=recipe.key(),
            pipeline=self.pipeline,
            step=step.name,
            created=now / 1e9,
            created_ns=now,
            duration=result.duration_seconds,
            policy=recipe.policy,
            code_hash=ident.hash if ident else None,
            functions=ident.functions if ident else {},
            recipe=recipe.stored(),
            outputs=tuple(step.outputs),
            output_fps=tuple(fps),
            sizes=tuple([len(b) for b in blobs]),
            checksums=tuple(checksums if checksums is not None else [checksum(b) for b in blobs]),
            formats=tuple(formats),
            previews=tuple(previews),
            reads=tuple(stored_reads),
        )
        sources = dict(texts)
        if ident is not None:
            for qualname, text in ident.sources.items():
                if qualname in ident.functions:
                    sources[ident.functions[qualname]] = text
        try:
            self.store.put_entry(entry, blobs, sources)
        except CacheFullError as exc:  # already explained once this run: no new warning
            result.warnings.append(f"step {step.name} not cached: {exc}")
            return None
        except Exception as exc:  # disk full, cache dir removed under us
            message = f"could not cache step {step.name}: {exc}"
            result.warnings.append(message)
            self.warn(message, step.name)
            return None
        result.key = entry.key
        self.meter.stored(step.name, pickling + time.perf_counter() - began, sum(entry.sizes))
        return entry
