"""The blob store on a shared folder: a killed upload is never read, a download appears only
once verified."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowyml_tui.engine.cache.blobs.breaker import Breaker
from flowyml_tui.engine.cache.blobs.gc import collect_blobs
from flowyml_tui.engine.cache.blobs.store import BlobCorrupt, BlobStore
from flowyml_tui.engine.cache.blobs.values import BlobValues
from flowyml_tui.engine.cache.notices import Notices
from tests.needs import need

UPLOADER = """
import sys
from flowyml_tui.engine.cache.blobs.breaker import Breaker
from flowyml_tui.engine.cache.blobs.store import BlobStore
from flowyml_tui.engine.cache.notices import Notices

url = sys.argv[1]
data = bytes(range(256)) * (int(sys.argv[2]) // 256)
BlobStore(url, Breaker(url, Notices())).put_bytes(data)
"""


def store(folder: Path) -> BlobStore:
    need("fsspec")
    url = folder.as_uri()
    return BlobStore(url, Breaker(url, Notices()))


def test_a_killed_upload_leaves_no_blob_and_gc_removes_its_temp_file(tmp_path):
    folder = tmp_path / "team"
    size = 512 * 2**20
    digest = hashlib.sha256(bytes(range(256)) * (size // 256)).hexdigest()
    writer = subprocess.Popen([sys.executable, "-c", UPLOADER, folder.as_uri(), str(size)])
    temp_dir = folder / "blobs" / "tmp"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # kill it once its bytes are arriving
            written = [p for p in temp_dir.glob("*") if p.stat().st_size > 0]
            if written or writer.poll() is not None:
                break
            time.sleep(0.001)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(10)
    assert written and written[0].stat().st_size < size  # killed mid-write
    blobs = store(folder)
    assert not Path(blobs.path(digest)).exists()
    assert [b.digest for b in blobs.listing()] == [f"tmp/{written[0].name}"]
    found = collect_blobs(BlobValues(blobs), referenced=set(), grace=0)
    assert found.blobs == 1 and not list(temp_dir.iterdir())


def test_a_download_appears_only_once_its_bytes_are_proven(tmp_path):
    blobs = store(tmp_path / "team")
    data = os.urandom(3 * 2**20)
    digest = blobs.put_bytes(data)
    dest = tmp_path / "value.bin"
    blobs.get_file(digest, len(data), dest)
    assert dest.read_bytes() == data

    Path(blobs.path(digest)).write_bytes(data[:-1] + b"!")  # same size, one byte changed
    other = tmp_path / "other.bin"
    with pytest.raises(BlobCorrupt, match="fails its SHA-256"):
        blobs.get_file(digest, len(data), other)
    with pytest.raises(BlobCorrupt, match="fails its SHA-256"):
        blobs.get_bytes(digest, len(data))
    assert not other.exists() and not list(tmp_path.glob(".other.bin*"))
