"""`BlobValues`: which values go to the blob store, and how they come back verified.

One object serves both setups: the Redis tier hands it the values at or above `threshold`
(the rest stay in Redis), and the bucket-only tier hands it every value (there is nowhere
else to share one).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import BlobStore


class BlobValues:
    """Values in a `BlobStore`, by SHA-256; values under `threshold` are not its."""

    def __init__(self, store: BlobStore, threshold: int = 0) -> None:
        """`threshold` 0: every value is the blob store's (`settings.threshold` gives the
        configured one, 1 MB by default)."""
        self.store, self.threshold = store, threshold

    @property
    def url(self) -> str:
        return self.store.url

    def takes(self, size: int) -> bool:
        return size >= self.threshold

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Upload (unless a blob of that digest is there already); returns the digest."""
        return self.store.put_bytes(data, digest or hashlib.sha256(data).hexdigest())

    def get(self, digest: str, size: int) -> bytes:
        """The bytes named `digest`, proven; else `BlobCorrupt` (missing or mismatched)."""
        return self.store.get_bytes(digest, size)
