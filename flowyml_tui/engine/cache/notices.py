"""Notices: what a shared tier wants the current run to tell the user, at most one per kind.

A tier cannot emit events (it knows no run); it leaves a notice here and the executor turns
each kind into one `RunWarning` per run, so the TUI, the CLI and the run record show it.
"""

from __future__ import annotations

OFFLINE = "shared_offline"
REFUSED = "shared_refused"
NOT_USED = "shared_not_used"
NOT_SHARED = "shared_not_shared"


class Notices:
    """Pending notices by kind (the first message of a kind wins until taken), plus standing
    ones that every run is told (the shared tier is configured but not used)."""

    def __init__(self, standing: dict[str, str] | None = None) -> None:
        self.standing = dict(standing or {})
        self._pending: dict[str, str] = {}

    def add(self, kind: str, message: str) -> None:
        self._pending.setdefault(kind, message)

    def take(self) -> list[tuple[str, str]]:
        """The notices so far, oldest kind first; pending ones are cleared."""
        pending, self._pending = self._pending, {}
        return [*self.standing.items(), *pending.items()]
