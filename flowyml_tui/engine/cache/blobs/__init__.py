"""The blob tier: big values in object storage (a shared folder, S3), named by their SHA-256.

`store.py` moves bytes (atomic uploads, streamed and verified downloads), `breaker.py` turns
a backend that fails into one notice per run, `index.py` keeps signed entries in the bucket
when no Redis tier holds them, `tier.py` is the shared tier a bucket alone makes, and
`settings.py` reads `--blobs` / `FLOWYML_TUI_BLOBS`. fsspec is imported only when a blobs URL
is set.
"""
