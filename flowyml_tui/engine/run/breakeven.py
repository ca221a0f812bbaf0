"""One run's measurements of what its cache cost, the `cache="auto"` decision, and the
history they update (`..breakeven` says what pays).

The clocks sit only around work that runs anyway: the lean hit loop as a whole (one pair a
run, `Executor._run_inline`), a value's load, an entry's pickling and write. At the run's end
the figures that moved are written to the store's workspace, and the steps whose cache costs
more than recomputing them are flagged (in `RunFinished`, so records and the workbench show
them); a run that measured what the last one did writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from ..cache import Store
from ..cache.tables import CacheVerdicts
from ..history.breakeven import CHANGE, CHECK_CHANGE, CacheCost, Figures, merged, seconds, verdict
from ..result import StepResult
from ..step import Step

Warn = Callable[[str, str | None], None]


class CostMeter:
    """What caching cost each step in one run, and whether an auto step is stored."""

    __slots__ = (
        "_checks",
        "_computes",
        "_figures",
        "_loads",
        "_stores",
        "_uncacheable",
        "_verdicts",
        "pipeline",
        "store",
    )

    def __init__(
        self, *, pipeline: str, store: Store | None, verdicts: CacheVerdicts | None = None
    ) -> None:
        """`verdicts`: the store's, if the caller read them as the run started."""
        self.pipeline = pipeline
        self.store = store
        self._figures: dict[str, Figures] | None = None
        """The store's figures per step, read only when a step was measured or is auto."""
        self._verdicts: CacheVerdicts | None = verdicts
        """The store's check time and flagged steps, read once a run."""
        self._loads: dict[str, float] = {}
        self._stores: dict[str, tuple[float, int]] = {}
        self._computes: dict[str, float] = {}
        """Steps that ran with their cache on -> how long they took."""
        self._checks: tuple[int, float] = (0, 0.0)
        """(hits asked on the lean path, the seconds they took together)."""
        self._uncacheable: set[str] = set()
        """Steps whose values could not be stored this run: never flagged."""

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

    def not_storable(self, step: str) -> None:
        """`step`'s values cannot be stored: no hit exists to weigh its compute against, and
        a flag it had (from before its output became uncacheable) goes."""
        self._computes.pop(step, None)
        self._uncacheable.add(step)

    def stored(self, step: str, seconds_taken: float, size: int) -> None:
        """`step`'s entry was pickled and written: `size` bytes of values."""
        self._stores[step] = (seconds_taken, size)

    # -- cache="auto" ----------------------------------------------------------------------

    def auto_stores(self, step: Step, result: StepResult) -> bool:
        """Whether to store an auto step that just ran; its reason says which and why."""
        known = self.figures().get(step.name)
        found = verdict(
            step.name, {**(known or {}), "compute_s": result.duration_seconds}, self._check_s()
        )
        if found is None or (not found.hit_s and known is None):
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
            verdicts = self.verdicts()
            steps = self._moved_steps() if self._measured() else {}
            check_s = self._moved_check(verdicts, CHANGE if steps else CHECK_CHANGE)
            unflag = self._uncacheable & verdicts.flags.keys()
            if check_s is None and not steps and not unflag:
                return dict(verdicts.flags)
            check = check_s if check_s is not None else verdicts.check_s or 0.0
            flags = {n: text for n, text in verdicts.flags.items() if n not in unflag}
            for name, figures in steps.items():  # judged when their own figures move
                found = verdict(name, figures, check)
                if found is not None and found.flagged and name not in self._uncacheable:
                    flags[name] = found.text()
                else:
                    flags.pop(name, None)
            updated = CacheVerdicts(check, flags)
            changed = updated != verdicts
            self.store.record_cache_costs(self.pipeline, steps, updated if changed else None)
            self._verdicts = updated
            return dict(flags)
        except Exception as exc:  # bookkeeping must never fail a run
            warn(f"could not update the cache's cost history: {exc}", None)
            return {}

    def figures(self) -> dict[str, Figures]:
        if self._figures is None:
            self._figures = self.store.cache_costs(self.pipeline) if self.store else {}
        return self._figures

    def verdicts(self) -> CacheVerdicts:
        if self._verdicts is None:
            self._verdicts = (
                self.store.cache_verdicts(self.pipeline) if self.store else CacheVerdicts()
            )
        return self._verdicts

    def _run_check_s(self) -> float:
        count, taken = self._checks
        return taken / count if count else 0.0

    def _check_s(self) -> float:
        return self._run_check_s() or self.verdicts().check_s or 0.0

    def _measured(self) -> bool:
        return bool(self._computes or self._loads or self._stores)

    def _moved_check(self, verdicts: CacheVerdicts, change: float) -> float | None:
        """This run's check time if it moved by more than `change` from the one kept (a
        run that writes step figures anyway takes the usual bar), else None."""
        if not self._checks[0]:
            return None
        old = {} if verdicts.check_s is None else {"check_s": verdicts.check_s}
        moved = merged(old, {"check_s": self._run_check_s()}, change)
        return moved["check_s"] if moved is not None else None

    def _moved_steps(self) -> dict[str, Figures]:
        """The steps whose figures moved this run, with all their figures."""
        history = self.figures()
        changed: dict[str, Figures] = {}
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
