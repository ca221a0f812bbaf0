"""LocalStore: step results on disk (diskcache), with the metadata that explains every hit and miss.

Layout inside one diskcache.Cache (string keys, so nothing but values goes through pickle):

- ``e:<key>``        entry metadata as JSON (recipe of the key, sizes, checksums, previews)
- ``v:<key>:<i>``    output ``i`` as pickle bytes, verified by checksum before it is unpickled
- ``s:<hash>``       source text of one function, shared by every entry that used it (diffs)
- ``versions:["<pipeline>","<step>"]`` JSON list of that step's entry keys, oldest first
- ``meta:*``         pins, invalidations, hit/miss counters and the entry each step's last run
                     used, as JSON tables ``{pipeline: {step: ...}}``; last use per entry key
- ``meta:format``    the layout version: a store of another version is emptied at open

Everything a step owns belongs to (pipeline, step): two pipelines sharing a cache dir may both
have a step ``train`` and never see each other's entries, pins or counters.

Values and metadata of one entry are written in one transaction, so a process killed mid-write
leaves either the whole entry or none of it. Entries never change once written, so metadata
read once is kept in memory (an L1 in front of the disk) until a deletion anywhere bumps
``meta:generation``; `refresh()` checks that once per run.
"""

from .database import DEFAULT_CACHE_DIR, DEFAULT_SIZE_LIMIT
from .store import LocalStore

__all__ = ["DEFAULT_CACHE_DIR", "DEFAULT_SIZE_LIMIT", "LocalStore"]
