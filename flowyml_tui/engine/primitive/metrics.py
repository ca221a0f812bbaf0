"""Prometheus metrics, only when `prometheus_client` is installed (the `[metrics]` extra).

A call pays plain integer counts, never a prometheus_client call: each cache name's counters
are Tallies, as `get_stats()`'s are, and its latency histogram is kept per thread, so no lock
is taken. One collector (scrape.py), registered once per process when the first cache is
created, turns them into the exported families when Prometheus scrapes. Nothing is imported
until then, and only if the package exists.
"""

from __future__ import annotations

import importlib.util
import threading

from .series import Series

_lock = threading.Lock()
_series: dict[str, Series] | None = None
_absent = False


def _registry() -> dict[str, Series] | None:
    """Every name's series, once the collector is registered; None without prometheus_client."""
    global _series, _absent
    if _series is not None or _absent:
        return _series
    with _lock:
        if _series is None and not _absent:
            try:
                present = importlib.util.find_spec("prometheus_client") is not None
            except ValueError:  # sys.modules["prometheus_client"] is None: blocked on purpose
                present = False
            if not present:
                _absent = True
                return None
            from .scrape import register

            series: dict[str, Series] = {}
            register(series)
            _series = series
    return _series


def metrics_for(name: str, enabled: bool | None) -> Series | None:
    """The series of a cache named `name`; `enabled=None` means "if prometheus_client is there"."""
    if enabled is False:
        return None
    registry = _registry()
    if registry is None:
        if enabled:
            raise ImportError(
                "metrics=True needs prometheus_client: pip install 'flowyml-tui[metrics]'"
            )
        return None
    series = registry.get(name)
    if series is None:
        with _lock:
            series = registry.setdefault(name, Series())
    return series
