"""What makes a .py file a pipeline file, before importing it: our way and flowyml's."""

from __future__ import annotations

MARKERS = ("Pipeline(", "Pipeline.from_steps(", "def create_pipeline(")
"""A Pipeline built at module level, flowyml's `from_steps`, or `flowyml run`'s factory."""


def looks_like_pipeline(text: str) -> bool:
    return any(marker in text for marker in MARKERS)
