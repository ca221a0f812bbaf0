"""WorkflowContext: what a call is made for (workflow, user, session) plus free-form state.

It follows the seed's examples (`WorkflowContext(user_id=...)`, `context.get("tier", ...)`) and
TTA.dev's own context (`player_id`, `metadata`, `state`), so code written for either runs as is.
Any other object is accepted as a context too: it is only handed to `key_fn` and the primitive.
"""

from __future__ import annotations

from typing import Any


class WorkflowContext:
    """Identifiers of one workflow run and a `state` dict the caches count their hits in."""

    __slots__ = ("metadata", "player_id", "session_id", "state", "user_id", "workflow_id")

    def __init__(
        self,
        workflow_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        player_id: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        self.workflow_id = workflow_id
        self.user_id = user_id
        self.session_id = session_id
        self.player_id = player_id
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.state: dict[str, Any] = {**(state or {}), **extra}

    def get(self, key: str, default: Any = None) -> Any:
        """A state value, else a metadata value, else `default` (the seed's `context.get`)."""
        if key in self.state:
            return self.state[key]
        return self.metadata.get(key, default)

    def __repr__(self) -> str:
        ids = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("workflow_id", "user_id", "session_id", "player_id")
            if getattr(self, name) is not None
        )
        return f"WorkflowContext({ids})"
