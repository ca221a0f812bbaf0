"""Prometheus metrics, only when `prometheus_client` is installed (the `[metrics]` extra).

Nothing is imported until a CachePrimitive is created, and then only if the package exists; the
collectors are created once per process and shared by every cache, labelled by its name.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

_lock = threading.Lock()
_collectors: tuple[Any, Any, Any, Any] | None = None
_absent = False


def _load() -> tuple[Any, Any, Any, Any] | None:
    global _collectors, _absent
    if _collectors is not None or _absent:
        return _collectors
    with _lock:
        if _collectors is None and not _absent:
            try:
                present = importlib.util.find_spec("prometheus_client") is not None
            except ValueError:  # sys.modules["prometheus_client"] is None: blocked on purpose
                present = False
            if not present:
                _absent = True
                return None
            from prometheus_client import Counter, Histogram

            _collectors = (
                Counter("flowyml_cache_hits", "Call-cache hits", ["cache"]),
                Counter("flowyml_cache_misses", "Call-cache misses", ["cache"]),
                Counter("flowyml_cache_expirations", "Call-cache expirations", ["cache"]),
                Histogram(
                    "flowyml_cache_latency_seconds",
                    "Time a cached call took, hit or miss",
                    ["cache"],
                ),
            )
    return _collectors


class Metrics:
    """One cache's labelled children, bound once so a hit pays one `inc()`."""

    __slots__ = ("expirations", "hits", "latency", "misses")

    def __init__(self, collectors: tuple[Any, Any, Any, Any], name: str) -> None:
        hits, misses, expirations, latency = collectors
        self.hits = hits.labels(cache=name)
        self.misses = misses.labels(cache=name)
        self.expirations = expirations.labels(cache=name)
        self.latency = latency.labels(cache=name)


def metrics_for(name: str, enabled: bool | None) -> Metrics | None:
    """Metrics for a cache named `name`; `enabled=None` means "if prometheus_client is there"."""
    if enabled is False:
        return None
    collectors = _load()
    if collectors is None:
        if enabled:
            raise ImportError(
                "metrics=True needs prometheus_client: pip install 'flowyml-tui[metrics]'"
            )
        return None
    return Metrics(collectors, name)
