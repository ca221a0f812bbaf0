"""flowyml's surface in our engine: its `Context`, its step conditions, its result names."""

from __future__ import annotations
