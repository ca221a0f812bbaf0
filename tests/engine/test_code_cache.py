"""The private code cache: compiled pipeline code and definition digests, keyed by source bytes.

A fresh `flowyml-tui run` reuses them instead of compiling and normalising again; an edit of
any kind (same size, same mtime) must still be seen, and a folder others can write is unused.
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowyml_tui.engine.hashing import code_cache as codecache
from flowyml_tui.engine.load.loader import load_pipelines

PIPELINE = """
from flowyml_tui import Pipeline, step
from helpers import scale

@step(outputs=["x"])
def make():
    return scale(2)

pipeline = Pipeline("p").add_step(make)
"""
HELPERS = "def scale(v):\n    return v * 10\n"

IDENTITY = """
import json, sys
from flowyml_tui.engine.hashing import code_identity
from flowyml_tui.engine.hashing.sources import source_file
from flowyml_tui.engine.load.loader import load_pipelines
pipeline = load_pipelines(sys.argv[1])["p"]
func = pipeline.steps[0].func
ident = code_identity(func)
print(json.dumps({"hash": ident.hash, "parsed": source_file(sys.argv[1]).parsed}))
"""


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "code-cache"
    monkeypatch.setenv("FLOWYML_TUI_CODE_CACHE", str(folder))
    return folder


def identity_in_fresh_process(path: Path, folder: Path | str) -> dict[str, object]:
    env = {**os.environ, "FLOWYML_TUI_CODE_CACHE": str(folder)}
    out = subprocess.run(
        [sys.executable, "-c", IDENTITY, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_loading_a_pipeline_keeps_its_compiled_code_in_a_private_folder(write_file, cache_folder):
    path = write_file("p.py", PIPELINE)
    write_file("helpers.py", HELPERS)
    load_pipelines(path)
    assert cache_folder.stat().st_mode & 0o777 == 0o700
    names = sorted(p.name for p in cache_folder.iterdir())
    assert [n for n in names if n.startswith("code-")], names
    for blob in cache_folder.iterdir():
        assert blob.stat().st_mode & 0o777 == 0o600


def test_the_compiled_code_is_looked_up_by_the_source_bytes(write_file, cache_folder):
    path = write_file("p.py", PIPELINE)
    write_file("helpers.py", HELPERS)
    data = path.read_bytes()
    planted = compile(data.decode() + "\nPLANTED = True\n", str(path), "exec")
    codecache.store("code", codecache.source_key(data, str(path)), marshal.dumps(planted))
    module = sys.modules[load_pipelines(path)["p"].steps[0].func.__module__]
    assert module.PLANTED is True  # the cached code ran: nothing was compiled


def test_a_damaged_blob_is_a_miss_and_is_written_again(write_file, cache_folder):
    path = write_file("p.py", PIPELINE)
    write_file("helpers.py", HELPERS)
    load_pipelines(path)
    key = codecache.source_key(path.read_bytes(), str(path))
    blob = cache_folder / f"code-{key}"
    good = blob.read_bytes()
    blob.write_bytes(good[:-8] + b"\x00" * 8)
    assert codecache.load("code", key) is None
    assert load_pipelines(path)["p"].steps[0]() == 20
    assert blob.read_bytes() == good


def test_an_edit_keeping_size_and_mtime_runs_the_new_code(write_file, cache_folder):
    path = write_file("p.py", PIPELINE)
    write_file("helpers.py", HELPERS)
    assert load_pipelines(path)["p"].steps[0]() == 20
    stat = path.stat()
    path.write_text(path.read_text().replace("scale(2)", "scale(3)"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert load_pipelines(path)["p"].steps[0]() == 30


def test_a_folder_others_can_write_is_not_used(write_file, cache_folder):
    cache_folder.mkdir(mode=0o700)
    cache_folder.chmod(0o777)
    path = write_file("p.py", PIPELINE)
    write_file("helpers.py", HELPERS)
    assert load_pipelines(path)["p"].steps[0]() == 20
    assert list(cache_folder.iterdir()) == []


def test_a_fresh_process_finds_the_digests_without_parsing(write_file, cache_folder):
    path = write_file("p.py", PIPELINE)
    write_file("helpers.py", HELPERS)
    uncached = identity_in_fresh_process(path, "off")
    first = identity_in_fresh_process(path, cache_folder)
    second = identity_in_fresh_process(path, cache_folder)
    assert uncached["parsed"] and first["parsed"]
    assert second["parsed"] is False
    assert uncached["hash"] == first["hash"] == second["hash"]


def test_a_helper_edited_in_another_file_still_changes_the_identity(write_file, cache_folder):
    path = write_file("p.py", PIPELINE)
    helpers = write_file("helpers.py", HELPERS)
    before = identity_in_fresh_process(path, cache_folder)["hash"]
    identity_in_fresh_process(path, cache_folder)  # both files' summaries are on disk now
    helpers.write_text(HELPERS.replace("10", "11"))
    after = identity_in_fresh_process(path, cache_folder)["hash"]
    assert after != before
    assert after == identity_in_fresh_process(path, "off")["hash"]


def test_a_planted_or_loose_code_cache_file_is_not_read(tmp_path, monkeypatch):
    """Compiled code is run as the user: only a private regular file of ours is trusted."""
    import os

    from flowyml_tui.engine.hashing import code_cache as codecache

    folder = tmp_path / "code"
    monkeypatch.setenv("FLOWYML_TUI_CODE_CACHE", str(folder))
    codecache.store("k", "abc", b"payload")
    assert codecache.load("k", "abc") == b"payload"
    (stored,) = folder.iterdir()
    os.chmod(stored, 0o644)
    assert codecache.load("k", "abc") is None
    os.chmod(stored, 0o600)
    elsewhere = tmp_path / "elsewhere"
    stored.rename(elsewhere)
    stored.symlink_to(elsewhere)
    assert codecache.load("k", "abc") is None


def test_a_run_reads_a_just_saved_source_file_once_not_once_per_step(write_file, load, monkeypatch):
    """A file saved moments ago has an mtime that cannot be trusted, so each lookup of it
    re-reads it; a run (and a plan) reads each source file once and identifies every step
    from that one version."""
    from flowyml_tui.engine.hashing import sources

    steps = "\n".join(
        f"@step(outputs=['v{i}'])\ndef s{i}():\n    return {i}\npipeline.add_step(s{i})\n"
        for i in range(20)
    )
    path = write_file("many.py", "from flowyml_tui import Pipeline, step\n")
    path.write_text(path.read_text() + "pipeline = Pipeline('many')\n" + steps)
    pipeline = load(path)
    os.utime(path)  # saved just now
    reads: list[str] = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        reads.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(sources, "open", counting_open, raising=False)
    result = pipeline.run()
    assert all(r.succeeded for r in result.step_results.values())
    assert reads.count(str(path)) == 1, reads
