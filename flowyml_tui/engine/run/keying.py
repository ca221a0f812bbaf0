"""One key path: what a step's cache key is made of, and whether its entry may be served.

The executor asks here for everything about keys: the lean key of the hit path (`key`,
digested straight from fingerprints, byte-identical to `Recipe.key`), the full recipe and
decision (`decide`), and whether the world a cached result read still holds (`world_change`).
Per-run key state lives here too: the fingerprint of every output produced or found so far
(`output_fps`) and of every context value read (`context_fps`).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ..cache.entry import Entry
from ..cache.keys import Recipe, key_of, key_prefix
from ..define.graph import Graph
from ..errors import FlowymlError, UnhashableInput
from ..events import ReasonKind
from ..hashing import CodeIdentity, Unfingerprintable, code_identity, fingerprint
from ..reads.check import ReadChange, first_change
from ..reads.model import Read, ReadSpec
from ..reads.snapshot import TEXT_SOURCE_PREFIX, ReadSnapshot, text_from_source
from ..step import CachePolicy, Step
from . import decide
from .decide import Clock, Decision, EntryReader, WorkspaceSnapshot

_NO_DEFAULT = object()


class KeyPlan(msgspec.Struct, frozen=True):
    """What a step's key is made of, short of its input fingerprints (`Keying.key_plan`)."""

    step: Step
    prefix: str
    inputs: tuple[tuple[str, str, str, bool], ...]
    """(`in:<name>=`, input name, parameter, produced upstream?) in the key's order"""
    context: tuple[tuple[str, str, str | None], ...]
    """(`ctx:<param>=`, parameter, fingerprint of its default or None) in the key's order"""


class Keying:
    """The key path of one run: keys, recipes, decisions and read checks for its steps."""

    def __init__(
        self,
        *,
        pipeline: str,
        graph: Graph,
        context: Mapping[str, Any],
        code_hash_mode: str,
        store: EntryReader | None,
        workspace: WorkspaceSnapshot,
        clock: Clock,
        root: str | None,
        excluded: tuple[str, ...],
        input_values: Callable[[Step], dict[str, Any]],
    ) -> None:
        """`root` is the pipeline file's folder (reads are stored relative to it);
        `input_values` gives a step's input values, for a key function that reads them."""
        self.pipeline = pipeline
        self.graph = graph
        self.context = context
        self.code_hash_mode = code_hash_mode
        self.store = store
        self.workspace = workspace
        self.clock = clock
        self.root = root
        self.excluded = excluded
        self._input_values = input_values
        self.output_fps: dict[str, str] = {}
        """Output name -> fingerprint of its value, produced or found in this run."""
        self.context_fps: dict[str, str] = {}
        """Context name -> fingerprint of its value (changed if a step changes it in place)."""
        self.plans: dict[str, KeyPlan] = graph.memo.setdefault(  # type: ignore[assignment]
            ("key-plans", pipeline, code_hash_mode, frozenset(context)), {}
        )
        """Step -> its fixed key parts, kept on the graph across runs (`key_plan`)."""
        self._last_keys: dict[str, tuple[list[str], str]] = graph.memo.setdefault(  # type: ignore[assignment]
            ("last-keys", pipeline), {}
        )
        """Step -> (the key's parts, the key) as last digested: a pure function of the parts."""

    # -- the lean key ----------------------------------------------------------------------

    def key(self, step: Step) -> str:
        """The step's key without building a `Recipe` (the hit path): the same parts,
        digested the same way (`keys.key_prefix`/`key_of`)."""
        plan = self.plans.get(step.name)
        if plan is None or plan.step is not step:
            plan = self.key_plan(step)
        return self.key_from(plan)

    def key_plan(self, step: Step) -> KeyPlan:
        """The step's fixed key parts, kept on the graph across runs while they stay valid.

        The graph fixes the producers and the context's names, so only the step's code can
        change them: a plan is kept only when the step's code identity is memoised for its
        function (`code_identity` would return that very object again). Code without source
        is identified afresh on every call, so its plan is too.
        """
        found = self.plans.get(step.name)
        if found is not None and found.step is step:
            return found
        ident = self.code(step)
        plan = self._plan_key(step, ident)
        if ident is not None and self.code(step) is ident:
            self.plans[step.name] = plan
        return plan

    def _plan_key(self, step: Step, ident: CodeIdentity | None) -> KeyPlan:
        code_hash = ident.hash if ident and step.policy is CachePolicy.CODE_HASH else None
        prefix = key_prefix(
            self.pipeline, step.name, step.policy.value, step.outputs, code_hash, None
        )
        bound = {}  # as `recipe` builds its inputs: one per name, in sorted order
        for name, param in step.bindings:
            bound[name] = (f"in:{name}=", name, param, name in self.graph.producers)
        read = sorted(p for p in step.params if p in self.context)
        return KeyPlan(
            step,
            prefix,
            tuple(bound[name] for name in sorted(bound)),
            tuple((f"ctx:{p}=", p, _default_fp(step, p)) for p in read),
        )

    def key_from(self, plan: KeyPlan) -> str:
        known, step = self.output_fps, plan.step
        parts = [plan.prefix]
        for label, name, param, produced in plan.inputs:
            parts.append(label + (known[name] if produced else self.context_fp(step, name, param)))
        for label, param, default in plan.context:
            fp = self.context_fp(step, param, param)
            if fp != default:  # a value equal to the default is what the step gets anyway
                parts.append(label + fp)
        last = self._last_keys.get(step.name)
        if last is not None and last[0] == parts:  # the same parts: the same digest
            return last[1]
        key = key_of(step.name, parts)
        self._last_keys[step.name] = (parts, key)
        return key

    # -- the full recipe and decision ----------------------------------------------------------

    def shown_code_hash(self, step: Step, stored: str | None) -> str | None:
        """The code hash a record shows: for `input_hash`, whose key ignores the code, the
        current code's, not that of the run that wrote the entry."""
        if step.policy is CachePolicy.INPUT_HASH:
            ident = self.code(step)
            return ident.hash if ident else None
        return stored or None

    def code(self, step: Step) -> CodeIdentity | None:
        if step.policy is CachePolicy.DISABLED:
            return None
        return code_identity(step.func, mode=self.code_hash_mode)

    def recipe(self, step: Step, ident: CodeIdentity | None) -> Recipe:
        if step.policy is CachePolicy.KEY_FN:  # the user's key is the whole key
            return Recipe(
                self.pipeline,
                step.name,
                step.policy.value,
                step.outputs,
                custom_key=self._custom_key(step),
            )
        inputs = {}
        for name, param in step.bindings:
            if name in self.graph.producers:
                inputs[name] = self.output_fps[name]
            else:
                inputs[name] = self.context_fp(step, name, param)
        return Recipe(
            pipeline=self.pipeline,
            step=step.name,
            policy=step.policy.value,
            outputs=step.outputs,
            code_hash=ident.hash if ident and step.policy is CachePolicy.CODE_HASH else None,
            inputs=inputs,
            context=self.context_read(step),
            context_values=self.context,
        )

    def context_read(self, step: Step) -> dict[str, str]:
        """Context parameter -> fingerprint, for each the step takes from the context and
        gets at another value than its default."""
        read = {}
        for param in step.params:
            if param in self.context:
                fp = self.context_fp(step, param, param)
                if fp != _default_fp(step, param):
                    read[param] = fp
        return read

    def context_fp(self, step: Step, name: str, param: str) -> str:
        fp = self.context_fps.get(name)
        if fp is None:
            try:
                fp = fingerprint(self.context[name])
            except Unfingerprintable as exc:
                raise UnhashableInput(
                    f"step {step.name!r}: argument {param!r} (context value {name!r}) cannot be "
                    f"hashed: {exc}; pass a picklable value, or use cache=False or a key function"
                ) from exc
            self.context_fps[name] = fp
        return fp

    def _custom_key(self, step: Step) -> str:
        assert step.key_fn is not None
        inputs, context = self._input_values(step), dict(self.context)
        if step.key_fn_args == 2:  # flowyml's fn(inputs, context)
            key = step.key_fn(inputs, context)
        else:
            key = step.key_fn(step, inputs, context)
        if not isinstance(key, str):
            raise FlowymlError(
                f"step {step.name!r}: the key function returned a {type(key).__name__}; "
                "it must return a str"
            )
        return key

    def decide(self, step: Step, pending_upstream: list[str] | None = None) -> Decision:
        """`run.decide` with this run's recipe, store, workspace and clock (its warnings are
        the caller's to report). `pending_upstream`: steps that will run first (a plan)."""
        if self.store is None or step.policy is CachePolicy.DISABLED:
            return Decision("run", ReasonKind.CACHE_DISABLED, "cache disabled")
        ident = self.code(step)
        if pending_upstream:
            return decide.plan_behind(
                step,
                ident,
                pending_upstream[0],
                self.store,
                self.workspace,
                self.graph.producers,
                lambda: self.context_read(step),
                self.context,
            )
        return decide.decide(
            step,
            self.recipe(step, ident),
            ident,
            self.store,
            self.workspace,
            self.clock,
            self.graph.producers,
            world=self.world_change,
        )

    # -- the world a result read -----------------------------------------------------------

    def world_change(self, entry: Entry) -> ReadChange | None:
        """What no longer holds of the files, folders and databases `entry`'s step read."""
        if not entry.reads:
            return None
        return first_change(entry.reads, self.root, self._old_text)

    def _old_text(self, digest: str) -> bytes | None:
        assert self.store is not None
        return text_from_source(self.store.source(TEXT_SOURCE_PREFIX + digest))

    def read_spec(self, step: Step) -> ReadSpec | None:
        """What to record of the step's reads, or None: not recorded (`track_reads=False`,
        cache off, nothing will be stored)."""
        if self.store is None or step.policy is CachePolicy.DISABLED:
            return None
        base = self.root or os.getcwd()
        declared = tuple(os.path.join(base, pattern) for pattern in step.reads)
        if not step.track_reads and not declared:
            return None
        return ReadSpec(step.track_reads, self.excluded, declared, self.root)

    def stored_reads(self, snapshot: ReadSnapshot) -> tuple[list[Read], dict[str, str]]:
        """The reads as kept with an entry (the snapshot made their paths relative to the
        pipeline's folder) and the sources to keep beside it (the compressed texts of small
        text files)."""
        from ..reads.snapshot import text_source

        reads = list(snapshot.reads)
        texts = {
            TEXT_SOURCE_PREFIX + digest: text_source(packed)
            for digest, packed in snapshot.texts.items()
        }
        return reads, texts

    def moved_reason(self, step: Step, snapshot: ReadSnapshot) -> str | None:
        """ "data.csv changed while load_data ran", or None when nothing moved."""
        if not snapshot.moved:
            return None
        shown = ", ".join(snapshot.moved[:3])
        more = f" and {len(snapshot.moved) - 3} more" if len(snapshot.moved) > 3 else ""
        return f"{shown}{more} changed while {step.name} ran"


_DEFAULTS: weakref.WeakKeyDictionary[Callable[..., Any], dict[str, str | None]] = (
    weakref.WeakKeyDictionary()
)


def _default_fp(step: Step, param: str) -> str | None:
    """The fingerprint of `param`'s default in the step's function, or None (no default, or
    one that cannot be fingerprinted)."""
    if param not in step.defaults:
        return None
    func = step.func
    try:
        memo = _DEFAULTS.setdefault(func, {})
    except TypeError:  # not weakly referenceable: worked out each time
        memo = {}
    if param in memo:
        return memo[param]
    value = _default_value(func, param)
    fp = None
    if value is not _NO_DEFAULT:
        try:
            fp = fingerprint(value)
        except Unfingerprintable:
            fp = None
    memo[param] = fp
    return fp


def _default_value(func: Callable[..., Any], param: str) -> Any:
    import inspect

    try:
        parameter = inspect.signature(func).parameters.get(param)
    except (TypeError, ValueError):
        return _NO_DEFAULT
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return _NO_DEFAULT
    return parameter.default
