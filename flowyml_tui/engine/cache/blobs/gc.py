"""`collect_blobs`: delete blobs no index record names, once they are older than a grace period.

Blobs are shared by every project and pipeline that writes the store, so what is referenced
is read from every project's records: the bucket's index and, with a Redis tier, its entry
headers. A blob younger than the grace period stays even when nothing names it yet: a
teammate's run uploads its blobs before its record, and may be between the two right now.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from .values import BlobValues

DEFAULT_GRACE = 24 * 3600.0


class BlobsCollected(msgspec.Struct, frozen=True):
    blobs: int
    bytes: int
    kept_young: int
    """Unreferenced blobs left because they are younger than the grace period."""


def collect_blobs(
    values: BlobValues, referenced: set[str], grace: float = DEFAULT_GRACE
) -> BlobsCollected:
    """Delete the blobs (and leftover temp files) not in `referenced` and older than `grace`
    seconds; `referenced` must name every blob any record of any project names."""
    cutoff = time.time() - grace
    doomed, young = [], 0
    for blob in values.store.listing():
        if blob.digest in referenced:
            continue
        if blob.modified > cutoff:
            young += 1
        else:
            doomed.append(blob)
    values.store.delete(blob.digest for blob in doomed)
    values.store.sweep_scratch(cutoff)  # this machine's killed downloads
    return BlobsCollected(len(doomed), sum(blob.size for blob in doomed), young)
