"""CachePrimitive: the call-level cache for expensive calls inside a step (the second seed).

The step cache skips a whole step; this skips one call (an LLM prompt, an API request) when the
same input comes again. Keys are the engine's fingerprints of the data (stable across processes),
or a `key_fn`'s string, kept apart per primitive name. Wrapping one CachePrimitive in another
makes tiers: lookups go fastest tier first and a slower tier's hit backfills the faster ones.
The signature and counters follow TTA.dev's own CachePrimitive, so its code runs unchanged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from time import perf_counter
from typing import Any

from ..call.scope import current_scope
from ..errors import FlowymlError, UnhashableInput
from ..hashing import Unfingerprintable, fingerprint
from .backends import CacheBackend, CallTier, InMemoryBackend, RedisBackend, UserTier
from .backends.auto import AutoTier
from .backends.disk import DiskTier, default_root
from .backends.memory import EXPIRED, HIT, NEVER, MemoryTier
from .backends.redis import RedisTier, redis_url_of
from .errors import CallCacheError
from .flight import Flights, settle_error
from .metrics import metrics_for
from .pricing import CostFn
from .tally import Sum, Tally

logger = logging.getLogger("flowyml_tui.cache")

KeyFn = Callable[[Any, Any], Any]
_UNSET: Any = object()
BACKENDS = ("memory", "disk", "redis")
AUTO = "auto"
"""No `backend=` given: disk under the pipeline's cache dir inside a run, memory elsewhere."""
_CONTEXT_COUNTERS = {"hits": "cache_hits", "misses": "cache_misses"}
_NOTHING = ("miss", None, 0.0, 0.0)


def _positional(
    args: tuple[Any, ...],
    ttl_seconds: float | None,
    cache_key_fn: KeyFn | None,
    backend: Any,
) -> tuple[float | None, KeyFn | None, Any]:
    """(ttl_seconds, cache_key_fn, backend) from the arguments after `primitive`."""
    if callable(args[0]):  # TTA.dev: CachePrimitive(primitive, cache_key_fn, ttl, backend)
        names = ("cache_key_fn", "ttl_seconds", "backend")
        if len(args) > 3:
            raise TypeError("CachePrimitive takes at most 4 positional arguments")
        given = dict(zip(names, args, strict=False))
    else:  # ours: CachePrimitive(primitive, ttl_seconds, cache_key_fn)
        names = ("ttl_seconds", "cache_key_fn")
        if len(args) > 2:
            raise TypeError(
                "after primitive and ttl_seconds, CachePrimitive takes cache_key_fn and the "
                "rest by keyword (or TTA.dev's order: primitive, cache_key_fn, ttl, backend)"
            )
        given = dict(zip(names, args, strict=False))
    return (
        given.get("ttl_seconds", ttl_seconds),
        given.get("cache_key_fn", cache_key_fn),
        given.get("backend", backend),
    )


def _default_name(primitive: Any) -> str:
    """The wrapped callable's qualified name, so a disk cache finds its entries next run."""
    if primitive is None:
        return "cache"
    if isinstance(primitive, CachePrimitive):
        return primitive.name
    if hasattr(primitive, "execute") and not inspect.isroutine(primitive):
        owner: Any = type(primitive)
    else:
        owner = getattr(primitive, "__func__", primitive)
    module = getattr(owner, "__module__", None) or ""
    qualname = getattr(owner, "__qualname__", None) or type(owner).__qualname__
    return f"{module}.{qualname}" if module else qualname


class CachePrimitive:
    """Cache a primitive's results by input, with a TTL per entry and a size bound.

    `primitive` is an async or sync callable ``(data, context)``, an object with
    ``execute(data, context)``, or another CachePrimitive (a slower or faster tier).
    """

    def __init__(
        self,
        primitive: Any = None,
        *positional: Any,
        ttl_seconds: float | None = 3600.0,
        cache_key_fn: KeyFn | None = None,
        max_size: int = 1000,
        key_fn: KeyFn | None = None,
        backend: str | CacheBackend | None = None,
        redis_url: str | None = None,
        name: str | None = None,
        strict: bool = False,
        directory: str | Path | None = None,
        clock: Callable[[], float] | None = None,
        metrics: bool | None = None,
        cost_fn: CostFn | None = None,
    ) -> None:
        """After `primitive`, positionally: ours is `(ttl_seconds, cache_key_fn)`; TTA.dev's
        is `(cache_key_fn, ttl_seconds, backend)`, told apart by a callable in second place.
        `cost_fn(result)` says what a call cost: misses add it to spent, hits to saved."""
        if positional:
            ttl_seconds, cache_key_fn, backend = _positional(
                positional, ttl_seconds, cache_key_fn, backend
            )
        self._config = {
            "primitive": primitive,
            "ttl_seconds": ttl_seconds,
            "cache_key_fn": cache_key_fn,
            "max_size": max_size,
            "key_fn": key_fn,
            "backend": backend,
            "redis_url": redis_url,
            "name": name,
            "strict": strict,
            "directory": directory,
            "clock": clock,
            "metrics": metrics,
            "cost_fn": cost_fn,
        }
        if key_fn is not None and cache_key_fn is not None:
            raise TypeError("give key_fn or its alias cache_key_fn, not both")
        key_fn = key_fn if key_fn is not None else cache_key_fn
        if key_fn is not None and not callable(key_fn):
            raise TypeError(
                f"key_fn must be a callable (data, context) -> str, not {type(key_fn).__name__}"
            )
        if cost_fn is not None and not callable(cost_fn):
            raise TypeError(
                f"cost_fn must be a callable (result) -> cost, not {type(cost_fn).__name__}"
            )
        if not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be a positive int, not {max_size!r}")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive (or None: never), not {ttl_seconds}")
        custom = backend if isinstance(backend, CacheBackend) else None
        if backend is not None and custom is None and backend not in BACKENDS:
            raise FlowymlError(
                f"unknown call-cache backend {backend!r}; use one of {', '.join(BACKENDS)}, "
                "or an object with async get(key), set(key, value, ttl_seconds), delete(key)"
            )
        self.primitive = primitive
        self.ttl_seconds = ttl_seconds
        self.max_size = max_size
        self.key_fn = key_fn
        self.backend = (
            AUTO if backend is None else backend if custom is None else type(custom).__name__
        )
        self.redis_url = redis_url
        self.name = name if name is not None else _default_name(primitive)
        self.strict = strict
        self.cost_fn = cost_fn
        self._clock = clock if clock is not None else time.time
        self._tier: CallTier
        if isinstance(custom, InMemoryBackend | RedisBackend):
            self._tier = custom.tier()  # ours: used directly, no event loop between
        elif custom is not None:
            self._tier = UserTier(custom, self.name)
        elif backend == "redis":
            self._tier = RedisTier(redis_url_of(redis_url), self.name, ttl_seconds)
        elif backend == "disk":
            root = Path(directory) if directory is not None else default_root()
            self._tier = DiskTier(root, self.name, max_size)
        elif backend is None and directory is not None:
            raise TypeError('directory= is for backend="disk"; give both, or neither')
        elif backend is None:
            self._tier = AutoTier(self.name, max_size)
        else:
            self._tier = MemoryTier(max_size)
        self._outside_runs = self._tier.memory if isinstance(self._tier, AutoTier) else self._tier
        """The tier outside any run, for the hit path (skips AutoTier's delegation)."""
        self._stats = {"hits": Tally(), "misses": Tally(), "expirations": Tally()}
        self._add_hit = self._stats["hits"].add
        self._money = {"saved_cost": Sum(), "spent_cost": Sum()}
        self._metrics = metrics_for(self.name, metrics)
        self._flights = Flights()
        self._warned = False
        levels = [self]
        inner = primitive
        while isinstance(inner, CachePrimitive):
            if inner in levels:
                raise FlowymlError(f"CachePrimitive {self.name!r} wraps itself")
            levels.append(inner)
            inner = inner.primitive
        # Fastest tier first; sorted() is stable, so equal tiers keep the nesting order.
        self._order: list[CachePrimitive] = sorted(levels, key=lambda level: level._tier.speed)
        self._target = inner
        self._solo = len(self._order) == 1

    # -- TTA.dev names ---------------------------------------------------------------------------

    @property
    def cache_key_fn(self) -> KeyFn | None:
        return self.key_fn

    def clear_cache(self) -> None:
        self.clear()

    def get_hit_rate(self) -> float:
        """Hits as a percent of lookups, two decimals; 0.0 before any call."""
        hits = self._stats["hits"].value
        total = hits + self._stats["misses"].value
        return round(hits / total * 100, 2) if total else 0.0

    # -- calls -----------------------------------------------------------------------------------

    async def execute(self, data: Any, context: Any = None) -> Any:
        """The cached result for `data`; a miss calls the primitive (once per key at a time)."""
        metrics = self._metrics
        started = perf_counter() if metrics is not None else 0.0
        keys, found, value = self._fast(data, context)
        if not found:
            leads, future = self._flights.join_async(keys)
            if not leads:
                value = await asyncio.shield(future)
                self._order[0]._count(context, "hits")
                self._note(True, 0.0, value)  # it waited for the call: no time saved
            else:
                try:
                    found, value, cost = self._lookup(keys, context)
                    if not found:
                        began = perf_counter()
                        value = self._invoke(data, context)
                        if inspect.isawaitable(value):
                            value = await value
                        cost = perf_counter() - began
                        self._store(keys, value, cost)
                    self._note(found, cost, value)
                    future.set_result(value)
                except BaseException as error:
                    settle_error(future, error)
                    raise
                finally:
                    self._flights.leave_async(keys)
        if metrics is not None:
            metrics.observe(perf_counter() - started)
        return value

    def call(self, data: Any, context: Any = None) -> Any:
        """`execute` for sync primitives, from ordinary (non-async) code such as a step."""
        metrics = self._metrics
        started = perf_counter() if metrics is not None else 0.0
        keys, found, value = self._fast(data, context)
        if not found:
            leads, future = self._flights.join_thread(keys)
            if not leads:
                value = future.result()
                self._order[0]._count(context, "hits")
                self._note(True, 0.0, value)  # it waited for the call: no time saved
            else:
                try:
                    found, value, cost = self._lookup(keys, context)
                    if not found:
                        began = perf_counter()
                        value = self._invoke(data, context)
                        if inspect.isawaitable(value):
                            if inspect.iscoroutine(value):
                                value.close()
                            raise FlowymlError(
                                f"CachePrimitive {self.name!r} wraps an async primitive; "
                                "use `await cached.execute(data, context)` instead of call()"
                            )
                        cost = perf_counter() - began
                        self._store(keys, value, cost)
                    self._note(found, cost, value)
                    future.set_result(value)
                except BaseException as error:
                    settle_error(future, error)
                    raise
                finally:
                    self._flights.leave_thread(keys)
        if metrics is not None:
            metrics.observe(perf_counter() - started)
        return value

    async def warm(self, inputs: Iterable[Any], context: Any = None) -> int:
        """Pre-compute the results for `inputs`; returns how many were not cached yet."""
        computed = 0
        for data in inputs:
            if self.get(data, context, default=_UNSET) is _UNSET:
                await self.execute(data, context)
                computed += 1
        return computed

    # -- management ------------------------------------------------------------------------------

    def get(self, data: Any, context: Any = None, default: Any = None) -> Any:
        """The cached value for `data` (fastest tier first), or `default`; counts nothing."""
        keys = self._keys(data, context)
        now = self._clock()
        for index, level in enumerate(self._order):
            found, value, expires, cost = level._peek(keys[index], now)
            if found:
                self._backfill(keys, index, value, expires, cost, now)
                return value
        return default

    def set(self, data: Any, value: Any, context: Any = None) -> None:
        """Store `value` as the result for `data` in every tier."""
        self._store(self._keys(data, context), value, 0.0)

    def invalidate(
        self, key: str | None = None, *, data: Any = _UNSET, context: Any = None
    ) -> bool:
        """Drop one entry, by a key from `keys()` or by its input; True if a tier held it."""
        if (key is None) == (data is _UNSET):
            raise TypeError("invalidate() takes key=... or data=... (with context=...)")
        keys = self._keys(data, context) if data is not _UNSET else (key,) * len(self._order)
        removed = False
        for index, level in enumerate(self._order):
            removed = bool(level._guard("delete", level._tier.delete, keys[index])) or removed
        return removed

    def keys(self) -> list[str]:
        """This tier's keys: `key_fn` strings, or fingerprints of the data without one."""
        return self._guard("list keys", self._tier.keys) or []

    def clear(self) -> None:
        """Empty this cache and the caches it wraps; the counters are kept."""
        for level in self._order:
            level._guard("clear", level._tier.clear)

    def evict_expired(self) -> int:
        """Remove expired entries now (else they go when next read); returns how many."""
        now = self._clock()
        total = 0
        for level in self._order:
            removed = level._guard("evict", level._tier.evict_expired, now) or 0
            for _ in range(removed):
                level._count(None, "expirations")
            total += removed
        return total

    @property
    def tier(self) -> CallTier:
        """Where this cache's own entries live (not a wrapped CachePrimitive's)."""
        return self._tier

    def key_for(self, data: Any, context: Any = None) -> str:
        """The key a call with this `data` and `context` is cached under."""
        return self._key(data, context)

    def get_stats(self) -> dict[str, Any]:
        """size, hits, misses, expirations, hit_rate (a percent) of this tier, and the money
        its hits avoided and its misses spent (by `cost_fn`; 0.0 without one)."""
        return {
            "size": self._guard("size", self._tier.size) or 0,
            "hits": self._stats["hits"].value,
            "misses": self._stats["misses"].value,
            "expirations": self._stats["expirations"].value,
            "hit_rate": self.get_hit_rate(),
            "saved_cost": self._money["saved_cost"].value,
            "spent_cost": self._money["spent_cost"].value,
        }

    def close(self) -> None:
        """Release the disk tier's files (it reopens on next use)."""
        for level in self._order:
            level._tier.close()

    def places(self) -> tuple[str, ...]:
        """The directories this cache's entries are in now (its disk tiers'): what a
        workbench clears for a step."""
        found = []
        for level in self._order:
            path = level._tier.path
            if path is not None:
                found.append(str(path))
        return tuple(found)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its settings, not its entries or locks: a step that uses one at module
        level can run in a worker process (entries on disk are shared; memory ones are not)."""
        return (_rebuild, (self._config,))

    def __repr__(self) -> str:
        return (
            f"CachePrimitive(name={self.name!r}, backend={self.backend!r}, "
            f"ttl_seconds={self.ttl_seconds}, max_size={self.max_size})"
        )

    # -- internals -------------------------------------------------------------------------------

    def _key(self, data: Any, context: Any) -> str:
        try:
            if self.key_fn is None:
                return fingerprint(data)
            key = self.key_fn(data, context)
            return key if isinstance(key, str) else fingerprint(key)
        except Unfingerprintable as error:
            raise UnhashableInput(
                f"CachePrimitive {self.name!r} cannot make a cache key: {error}; "
                "give it key_fn=lambda data, context: <a string>"
            ) from None

    def _keys(self, data: Any, context: Any) -> tuple[str, ...]:
        order = self._order
        if len(order) == 1:
            return (self._key(data, context),)
        return tuple(level._key(data, context) for level in order)

    def _fast(self, data: Any, context: Any) -> tuple[tuple[str, ...], bool, Any]:
        """The lock-free hit path: keys, and a live entry in the fastest tier if there is one."""
        lead = self._order[0]
        if self._solo:
            keys: tuple[str, ...] = (self._key(data, context),)
        else:
            keys = tuple(level._key(data, context) for level in self._order)
        scope = current_scope()
        tier = lead._tier if scope is not None else lead._outside_runs
        try:
            found, value, _, cost = tier.peek(keys[0], self._clock())
        except Exception as error:
            lead._failed("read", error)
            return keys, False, None
        if found:
            lead._add_hit()
            money = self._price(True, value) if self.cost_fn is not None else 0.0
            if scope is not None:
                scope.add(self, True, cost, money)
            state = getattr(context, "state", None)
            if isinstance(state, dict):  # TTA.dev keeps cache_hits there
                state["cache_hits"] = state.get("cache_hits", 0) + 1
            if lead._metrics is not None:
                lead._metrics.add_hit()
        return keys, found, value

    def _peek(self, key: str, now: float) -> tuple[bool, Any, float, float]:
        result = self._guard("read", self._tier.peek, key, now)
        return result if result is not None else (False, None, 0.0, 0.0)

    def _lookup(self, keys: tuple[str, ...], context: Any) -> tuple[bool, Any, float]:
        """Every tier, fastest first, counting; a hit backfills the tiers before it.

        The third value is the hit's cost: the seconds its call took when it was made."""
        now = self._clock()
        for index, level in enumerate(self._order):
            result = level._guard("read", level._tier.get, keys[index], now)
            status, value, expires, cost = result if result is not None else _NOTHING
            if status == HIT:
                level._count(context, "hits")
                self._backfill(keys, index, value, expires, cost, now)
                return True, value, cost
            if status == EXPIRED:
                level._count(context, "expirations")
            level._count(context, "misses")
        return False, None, 0.0

    def _note(self, hit: bool, cost: float, value: Any) -> None:
        """Price the call, and count it for the step running it, if any (the workbench's
        per-step stats and the run's savings ledger)."""
        money = self._price(hit, value) if self.cost_fn is not None else 0.0
        scope = current_scope()
        if scope is not None:
            scope.add(self, hit, cost, money)

    def _price(self, hit: bool, value: Any) -> float:
        """What the call cost by `cost_fn`, added to saved (a hit) or spent (a miss)."""
        assert self.cost_fn is not None
        try:
            money = float(self.cost_fn(value))
        except FlowymlError:
            raise
        except Exception as error:
            raise FlowymlError(
                f"CachePrimitive {self.name!r}: cost_fn raised {type(error).__name__}: {error}; "
                "it takes the call's result and returns what the call cost (a number)"
            ) from error
        counter = "saved_cost" if hit else "spent_cost"
        self._money[counter].add(money)
        if self._metrics is not None:
            self._metrics.money[counter].add(money)
        return money

    def _invoke(self, data: Any, context: Any) -> Any:
        target = self._target
        if target is None:
            raise FlowymlError(
                f"CachePrimitive {self.name!r} wraps no primitive, so a miss has nothing to "
                "call; give primitive=..., or use get()/set() only"
            )
        execute = getattr(target, "execute", None)
        if execute is not None and not inspect.isroutine(target):
            return execute(data, context)
        return target(data, context)

    def _deadline(self, now: float) -> float:
        return NEVER if self.ttl_seconds is None else now + self.ttl_seconds

    def _store(self, keys: tuple[str, ...], value: Any, cost: float) -> None:
        now = self._clock()
        for index, level in enumerate(self._order):
            level._guard("store", level._tier.set, keys[index], value, level._deadline(now), cost)

    def _backfill(
        self,
        keys: tuple[str, ...],
        index: int,
        value: Any,
        expires: float,
        cost: float,
        now: float,
    ) -> None:
        for faster in range(index):
            level = self._order[faster]
            deadline = min(level._deadline(now), expires)
            level._guard("backfill", level._tier.set, keys[faster], value, deadline, cost)

    def _count(self, context: Any, counter: str) -> None:
        self._stats[counter].add()
        if counter != "expirations":
            state = getattr(context, "state", None)
            if isinstance(state, dict):  # TTA.dev keeps cache_hits / cache_misses there
                name = _CONTEXT_COUNTERS[counter]
                state[name] = state.get(name, 0) + 1
        if self._metrics is not None:
            self._metrics.counts[counter].add()

    def _guard(self, action: str, operation: Callable[..., Any], *args: Any) -> Any:
        """Run a tier operation; a failure warns once and yields None (strict=True raises)."""
        try:
            return operation(*args)
        except Exception as error:
            self._failed(action, error)
            return None

    def _failed(self, action: str, error: Exception) -> None:
        """Warn once per cache (later failures go to debug), or raise when strict."""
        if self.strict:
            raise CallCacheError(
                f"call cache {self.name!r} ({self.backend} backend) could not {action}: {error}"
            ) from error
        if not self._warned:
            self._warned = True
            logger.warning(
                "call cache %r (%s backend) could not %s: %s; calling the primitive "
                "directly (strict=True raises instead)",
                self.name,
                self.backend,
                action,
                error,
            )
        else:
            logger.debug("call cache %r could not %s: %s", self.name, action, error)


def _rebuild(config: dict[str, Any]) -> CachePrimitive:
    return CachePrimitive(**config)
