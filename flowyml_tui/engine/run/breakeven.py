"""One run's measurements of what its cache cost, the `cache="auto"` decision, and the
history they update (`..breakeven` says what pays).

The clocks sit only around work that runs anyway: the lean hit loop as a whole (one pair a
run, `Executor._run_inline`), a value's load, an entry's pickling and write. At the run's end
the figures that moved are written to the store's workspace, and the steps whose cache costs
more than recomputing them are flagged (in `RunFinished`, so records and the workbench show
them); a run that measured what the last one did writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ..breakeven import PIPELINE_WIDE, CacheCost, Figures, merged, seconds, verdict
from ..cache import Store
from ..result import StepResult
from ..step import Step

Warn = Callable[[str, str | None], None]


class CostMeter:
    """What caching cost each step in one run, and whether an auto step is stored."""

    __slots__ = ("_checks", "_computes", "_history", "_loads", "_stores", "pipeline", "store")

    def __init__(self, *, pipeline: str, store: Store | None) -> None:
        self.pipeline = pipeline
        self.store = store
        self._history: dict[str, Figures] | None = None
        """The store's figures, read on first need (an auto step's store, the run's end)."""
        self._loads: dict[str, float] = {}
        self._stores: dict[str, tuple[float, int]] = {}
        self._computes: dict[str, float] = {}
        """Steps that ran with their cache on -> how long they took."""
        self._checks: tuple[int, float] = (0, 0.0)
        """(hits asked on the lean path, the seconds they took together)."""

    # -- measuring -------------------------------------------------------------------------

    def lean_checks(self, count: int, seconds_taken: float) -> None:
        """`count` steps were asked on the lean hit path, in `seconds_taken` all told."""
        done, taken = self._checks
        self._checks = (done + count, taken + seconds_taken)

    def loaded(self, step: str, seconds_taken: float) -> None:
        """A cached value of `step` was loaded (verified, unpickled)."""
        self._loads[step] = self._loads.get(step, 0.0) + seconds_taken

    def executed(self, step: str, seconds_taken: float) -> None:
        """`step` ran with its cache on, for `seconds_taken`: what a hit would have saved."""
        self._computes[step] = seconds_taken

    def stored(self, step: str, seconds_taken: float, size: int) -> None:
        """`step`'s entry was pickled and written: `size` bytes of values."""
        self._stores[step] = (seconds_taken, size)

    # -- cache="auto" ----------------------------------------------------------------------

    def auto_stores(self, step: Step, result: StepResult) -> bool:
        """Whether to store an auto step that just ran; its reason says which and why."""
        history = self.history()
        found = verdict(
            step.name,
            {**history.get(step.name, {}), "compute_s": result.duration_seconds},
            self._check_s(history),
        )
        if found is None or (not found.hit_s and step.name not in history):
            result.reason += "; auto: stored (a hit's cost is not measured yet)"
            return True
        hit, compute = seconds(found.hit_s), seconds(found.compute_s)
        if found.pays:
            result.reason += (
                f"; auto: stored, recomputing ({compute}) costs more than a hit ({hit})"
            )
            return True
        result.reason += (
            f"; auto: not stored, a hit ({hit}) costs more than recomputing ({compute})"
        )
        return False

    # -- the run's end ---------------------------------------------------------------------

    def costs(self) -> dict[str, CacheCost]:
        """The steps whose values were loaded or stored this run, and what that cost."""
        found: dict[str, CacheCost] = {}
        for name in self._loads.keys() | self._stores.keys():
            store_s, size = self._stores.get(name, (0.0, 0))
            found[name] = CacheCost(self._loads.get(name, 0.0), store_s, size)
        return found

    def check_s(self) -> float:
        """What asking the cache took a step this run (the mean of its lean hits), else 0."""
        return self._run_check_s()

    def record(self, warn: Warn) -> dict[str, str]:
        """Fold this run into the history, write what moved; the steps flagged now."""
        if self.store is None:
            return {}
        try:
            history = self.history()
            flags = self.store.cache_flags(self.pipeline)
            changed = self._changed(history)
            if changed:
                history.update(changed)
                news = self._flags(history, flags, changed)
                self.store.record_cache_costs(self.pipeline, changed, news)
                flags = {**flags, **news}
            return {step: text for step, text in flags.items() if text is not None}
        except Exception as exc:  # bookkeeping must never fail a run
            warn(f"could not update the cache's cost history: {exc}", None)
            return {}

    def history(self) -> dict[str, Figures]:
        if self._history is None:
            self._history = dict(self.store.cache_costs(self.pipeline)) if self.store else {}
        return self._history

    def _run_check_s(self) -> float:
        count, taken = self._checks
        return taken / count if count else 0.0

    def _check_s(self, history: Mapping[str, Figures]) -> float:
        return self._run_check_s() or history.get(PIPELINE_WIDE, {}).get("check_s", 0.0)

    def _changed(self, history: Mapping[str, Figures]) -> dict[str, Figures]:
        changed: dict[str, Figures] = {}
        if self._checks[0]:
            moved = merged(history.get(PIPELINE_WIDE), {"check_s": self._run_check_s()})
            if moved is not None:
                changed[PIPELINE_WIDE] = moved
        for name in self._computes.keys() | self._loads.keys() | self._stores.keys():
            measured: dict[str, float] = {}
            if name in self._computes:
                measured["compute_s"] = self._computes[name]
            if name in self._loads:
                measured["load_s"] = self._loads[name]
            if name in self._stores:
                measured["store_s"], size = self._stores[name]
                measured["bytes"] = float(size)
            moved = merged(history.get(name), measured)
            if moved is not None:
                changed[name] = moved
        return changed

    def _flags(
        self,
        history: Mapping[str, Figures],
        flags: Mapping[str, str],
        changed: Mapping[str, Figures],
    ) -> dict[str, str | None]:
        """Flags to set or drop: every step's when the check moved, else the changed ones'."""
        check_s = self._check_s(history)
        names: Iterable[str] = history if PIPELINE_WIDE in changed else changed
        news: dict[str, str | None] = {}
        for name in names:
            if name == PIPELINE_WIDE:
                continue
            found = verdict(name, history.get(name), check_s)
            text = found.text() if found is not None and found.flagged else None
            if flags.get(name) != text:
                news[name] = text
        return news
