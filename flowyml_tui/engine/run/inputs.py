"""The values of one run: what each step receives, where each output's value is (this
process's memory, a cache entry, a runner's workers), and the guard against a step changing
its inputs in place.

Outputs are loaded lazily: a fully cached run loads none. A value that fails to load is
handed to `recover` (the executor re-runs its producer); a step that changed an input in
place is reported, and later steps get the value as produced (from the cache or a copy kept
before the step first got it).
"""

from __future__ import annotations

import contextlib
import pickle
import time
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..cache import CorruptEntry, Store
from ..cache.entry import Entry
from ..define.graph import Graph
from ..hashing import Unfingerprintable, fingerprint
from ..result import StepResult
from ..step import Step
from .mutation import is_immutable

if TYPE_CHECKING:
    from ..events import StepStatus
    from .held import Handle

HELD = object()
"""Stands for an input value that is on the runner's workers, not in this process."""

Warn = Callable[[str, str | None], None]


class RunValues:
    """Output name -> its value, its entry, its copy on a worker, its kept original."""

    def __init__(
        self,
        *,
        graph: Graph,
        context: Mapping[str, Any],
        store: Store | None,
        output_fps: dict[str, str],
        context_fps: dict[str, str],
        warn: Warn,
        recover: Callable[[str, CorruptEntry], Any],
        status_of: Callable[[str], StepStatus | None],
        loaded: Callable[[str, float], None] | None = None,
    ) -> None:
        """`output_fps`/`context_fps` are the run's key state (`Keying`), shared: a value
        changed in place changes what later keys say. `loaded(step, seconds)` is told what
        loading each cached value took (`breakeven.CostMeter.loaded`)."""
        self.loaded = loaded
        self.graph = graph
        self.context = context
        self.store = store
        self.output_fps = output_fps
        self.context_fps = context_fps
        self.warn = warn
        self.recover = recover
        self.status_of = status_of
        self.values: dict[str, Any] = {}
        self.held: dict[str, tuple[Handle, int]] = {}
        """Output -> where it stays on the runner's workers (a runner that `holds_values`)."""
        self.output_entry: dict[str, Entry] = {}
        """Output name -> the cache entry holding its value (found by name in `entry.outputs`)."""
        self.stored: dict[str, tuple[Entry, int]] = {}
        """Output name -> the entry this run wrote for it (a copy if the worker's is lost)."""
        self.originals: dict[str, bytes | None] = {}
        """Output name -> its pickle, kept before a step that may change it got it."""

    def forget(self, step: Step) -> None:
        """Everything known of the step's outputs, before it is decided again."""
        for output in step.outputs:
            for table in (self.values, self.output_entry, self.output_fps, self.held):
                table.pop(output, None)
            self.stored.pop(output, None)
            self.originals.pop(output, None)

    # -- inputs changed in place -------------------------------------------------------------

    def keep_originals(self, step: Step) -> None:
        """Pickle an upstream value the cache holds no copy of, before a step first gets it,
        so that if a step changes it in place later steps can still get it as produced."""
        for name, _ in step.bindings:
            if name not in self.graph.producers or name in self.originals:
                continue
            if name in self.output_entry or name in self.stored or name in self.held:
                continue  # the cache has it as produced, or it is not in this process
            value = self.values[name]
            if is_immutable(value) or self.output_fps[name].startswith("unhashable-"):
                continue
            try:
                self.originals[name] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # cannot keep a copy: a change is still reported
                self.originals[name] = None

    def check_mutations(self, step: Step, kwargs: dict[str, Any], result: StepResult) -> None:
        """Re-fingerprint the step's mutable inputs: a step that changed one in place is
        reported, and later steps get the value as produced (or, for a context value, a key
        that says what they actually receive)."""
        for name, param in step.bindings:
            value = kwargs[param]
            if is_immutable(value):
                continue
            if name in self.graph.producers:
                if name in self.held:  # on a worker: it reports the change itself
                    continue
                before = self.output_fps.get(name, "")
                if before.startswith("unhashable-") or self._fingerprint_or_none(value) == before:
                    continue
                self.mutated_upstream(step, name, value, result)
            else:
                self._mutated_context(step, name, value, result)
        for param in step.params:
            if param in kwargs and not is_immutable(kwargs[param]):
                self._mutated_context(step, param, kwargs[param], result)

    def mutated_upstream(self, step: Step, name: str, value: Any, result: StepResult) -> None:
        producer = self.graph.producers[name]
        aliases = [n for n, v in self.values.items() if v is value and n != name]
        lost = [n for n in [name, *aliases] if not self.restore(n)]
        message = (
            f"step {step.name} changed its input {name!r} (output of {producer}) in place; "
            "copy it before changing it (e.g. `copy.deepcopy`). "
            + (
                f"Steps after it still get {producer}'s value as produced"
                if not lost
                else f"No copy of {', '.join(map(repr, lost))} was kept: steps after it get "
                "the changed value"
            )
        )
        result.warnings.append(message)
        self.warn(message, step.name)

    def restore(self, name: str) -> bool:
        """Put the value of `name` back as its producer made it; False if no copy exists."""
        stored = self.stored.get(name)
        entry = self.output_entry.get(name) or (stored[0] if stored else None)
        if entry is not None:  # reloaded from the cache when next asked for
            self.values.pop(name, None)
            self.held.pop(name, None)
            self.output_entry[name] = entry
            return True
        blob = self.originals.get(name)
        if blob is None:
            return False
        self.values[name] = pickle.loads(blob)
        return True

    def _mutated_context(self, step: Step, name: str, value: Any, result: StepResult) -> None:
        before = self.context_fps.get(name)
        if before is None:
            return
        after = self._fingerprint_or_none(value)
        if after == before:
            return
        if after is None:
            self.context_fps.pop(name)  # later steps that read it get a clear error
        else:
            self.context_fps[name] = after  # later keys say what later steps receive
        message = (
            f"step {step.name} changed the context value {name!r} in place; steps after it "
            "get the changed value. Copy it before changing it (e.g. `copy.deepcopy`)"
        )
        result.warnings.append(message)
        self.warn(message, step.name)

    @staticmethod
    def _fingerprint_or_none(value: Any) -> str | None:
        try:
            return fingerprint(value)
        except Unfingerprintable:
            return None

    def input_values(self, step: Step) -> dict[str, Any]:
        """Parameter -> value for each of the step's inputs (upstream outputs or context)."""
        held = self.held
        return {
            param: (held[name][0].ref(held[name][1]) if name in held else self.materialize(name))
            if name in self.graph.producers
            else self.context[name]
            for name, param in step.bindings
        }

    def arguments(self, step: Step) -> dict[str, Any]:
        kwargs = self.input_values(step)
        for param in step.params:
            if param in self.context:
                kwargs[param] = self.context[param]
        return kwargs

    def fingerprint_output(self, step: Step, name: str, value: Any, result: StepResult) -> str:
        try:
            return fingerprint(value)
        except Unfingerprintable as exc:
            return self.unhashable_output(step, name, str(exc), result)

    def unhashable_output(self, step: Step, name: str, problem: str, result: StepResult) -> str:
        """Warn that an output cannot be fingerprinted; a fingerprint that matches nothing,
        so the steps reading it re-run whenever this one does."""
        message = (
            f"output {name!r} of step {step.name} cannot be fingerprinted ({problem}); "
            "steps that read it will re-run whenever this step runs"
        )
        result.warnings.append(message)
        self.warn(message, step.name)
        return "unhashable-" + uuid.uuid4().hex

    def materialize(self, output_name: str) -> Any:
        """The value of an output: from this run's memory, else from the cache.

        A corrupt entry is a miss with a warning: its step runs again right here.
        """
        if output_name in self.values:
            return self.values[output_name]
        if output_name in self.held:  # on the runner's workers: the store's copy is nearer
            located = self.stored.get(output_name)
            if located is not None and self.store is not None:
                with contextlib.suppress(Exception):  # gone since: the worker still has it
                    return self.store.load_value(*located)
            handle, index = self.held[output_name]
            value = handle.fetch(index)
            self.values[output_name] = value
            return value
        entry = self.output_entry.get(output_name)
        if entry is None:
            producer = self.graph.producers.get(output_name)
            status = self.status_of(producer) if producer is not None else None
            raise KeyError(
                f"output {output_name!r} has no value in this run (step {producer} {status})"
            )
        assert self.store is not None
        began = time.perf_counter()
        try:
            value = self.store.load_value(entry, entry.outputs.index(output_name))
        except CorruptEntry as exc:
            return self.recover(output_name, exc)
        if self.loaded is not None:
            self.loaded(entry.step, time.perf_counter() - began)
        self.values[output_name] = value
        return value

    def remember_entry(self, step: Step, entry: Entry) -> None:
        fps = entry.output_fps
        for index, name in enumerate(step.outputs):
            self.values.pop(name, None)
            self.held.pop(name, None)
            self.output_entry[name] = entry
            self.output_fps[name] = fps[index]

    def produced(self, step: Step, fps: list[str], result: StepResult) -> None:
        """The step's new outputs are these fingerprints: what was known of the old ones (an
        entry, a stored copy, an original kept against in-place changes) no longer holds."""
        for name, fp in zip(step.outputs, fps, strict=True):
            self.output_fps[name] = fp
            self.output_entry.pop(name, None)
            self.stored.pop(name, None)
            self.originals.pop(name, None)
        result.output_fingerprints = dict(zip(step.outputs, fps, strict=True))

    def stored_in(self, step: Step, entry: Entry | None) -> None:
        """The step's outputs have a copy in the store now (when `entry` was written)."""
        if entry is not None:
            for index, name in enumerate(step.outputs):
                self.stored[name] = (entry, index)
