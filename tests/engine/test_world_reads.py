"""A step's result follows the files, folders and databases it reads (real files, real
SQLite, real worker processes and a real Dask cluster): never a stale result that looks right."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time

import pytest

from flowyml_tui.engine.events import ReasonKind, StepFinished, StepStatus
from flowyml_tui.engine.history.records import load_run
from flowyml_tui.engine.run import InlineRunner
from flowyml_tui.engine.run.process import ProcessRunner
from tests.needs import need

LOADER = """
import csv, os
from flowyml_tui import Pipeline, step

@step(outputs=["rows"])
def load_data(file_path: str = "data.csv"):
    with open(os.path.join(os.path.dirname(__file__), file_path)) as f:
        return list(csv.reader(f))

@step(inputs=["rows"], outputs=["count"])
def count(rows):
    return len(rows)

@step(outputs=["other"])
def untouched():
    return 42

pipeline = Pipeline("reads").add_step(load_data).add_step(count).add_step(untouched)
"""


@pytest.fixture
def loader(write_file, load, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,1\nb,2\n")
    path = write_file("pipe.py", LOADER)
    return (lambda: load(path)), data


def _statuses(result):
    return {name: r.status for name, r in result.step_results.items()}


def test_an_edited_file_re_runs_its_reader_with_the_new_value_and_names_the_file(loader):
    make, data = loader
    pipeline = make()
    assert pipeline.run()["count"] == 2
    assert all(r.cached for r in make().run().step_results.values())
    with data.open("a") as f:
        f.write("c,3\n")
    again = make().run()
    load = again.step_results["load_data"]
    assert load.status is StepStatus.EXECUTED
    assert load.reason == "file changed: data.csv"
    assert load.reason_kind is ReasonKind.FILE_CHANGED
    assert "+c,3" in (load.diff or "")  # the Diff pane shows what changed in the file
    assert again["count"] == 3
    assert again.step_results["count"].status is StepStatus.EXECUTED
    assert again.step_results["untouched"].cached  # it read no file
    assert all(r.cached for r in make().run().step_results.values())


def test_a_touched_file_with_the_same_bytes_stays_a_hit(loader):
    make, data = loader
    make().run()
    later = time.time() + 5
    os.utime(data, (later, later))
    result = make().run()
    assert all(r.cached for r in result.step_results.values())


def test_a_same_size_rewrite_with_the_old_mtime_restored_still_re_runs(loader):
    make, data = loader
    make().run()
    before = data.stat()
    data.write_text("a,9\nb,8\n")  # same size
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert data.stat().st_size == before.st_size
    assert data.stat().st_mtime_ns == before.st_mtime_ns
    result = make().run()
    assert result.step_results["load_data"].reason == "file changed: data.csv"
    assert result["rows"] == [["a", "9"], ["b", "8"]]


def test_a_removed_file_re_runs_its_reader(loader):
    make, data = loader
    make().run()
    data.unlink()
    result = make().run()
    load = result.step_results["load_data"]
    assert load.status is StepStatus.FAILED  # the step itself now fails: no stale rows
    plan = {p.step: p for p in make().plan()}
    assert plan["load_data"].reason == "file removed: data.csv"


FOLDER = """
import os
from flowyml_tui import Pipeline, step

INBOX = os.path.join(os.path.dirname(__file__), "inbox")

@step(outputs=["names"])
def list_inbox():
    return sorted(os.listdir(INBOX))

@step(outputs=["scratch"])
def scratch():
    path = os.path.join(os.path.dirname(__file__), "scratch.txt")
    with open(path, "w") as f:  # written, then read back: its own scratch file
        f.write("tmp")
    with open(path) as f:
        text = f.read()
    with open(os.path.join(os.path.dirname(__file__), "log.txt"), "w") as f:  # write only
        f.write("done")
    with open(os.__file__) as f:  # the standard library: never a dependency
        f.read(10)
    import json  # noqa: F401  (a module: never a dependency)
    return text

pipeline = Pipeline("folder").add_step(list_inbox).add_step(scratch)
"""


def test_a_new_file_in_a_listed_folder_re_runs_the_lister(write_file, load, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "one.txt").write_text("1")
    path = write_file("folder.py", FOLDER)
    first = load(path).run()
    assert first["names"] == ["one.txt"]
    (inbox / "one.txt").write_text("changed contents")  # a file's bytes: not the listing's
    assert load(path).run().step_results["list_inbox"].cached
    (inbox / "two.txt").write_text("2")
    (inbox / "three.txt").write_text("3")
    result = load(path).run()
    assert result.step_results["list_inbox"].reason == "folder changed: inbox/ (+2 files)"
    assert result["names"] == ["one.txt", "three.txt", "two.txt"]


def test_scratch_written_only_stdlib_and_module_reads_are_not_dependencies(
    write_file, load, tmp_path
):
    (tmp_path / "inbox").mkdir()
    path = write_file("folder.py", FOLDER)
    result = load(path).run()
    (finished,) = [e for e in result.events if isinstance(e, StepFinished) and e.step == "scratch"]
    assert finished.reads == ()
    (tmp_path / "log.txt").write_text("another")
    (tmp_path / "scratch.txt").write_text("another")
    assert load(path).run().step_results["scratch"].cached


CHANGES_MID_STEP = """
import os, subprocess
from flowyml_tui import Pipeline, step

DATA = os.path.join(os.path.dirname(__file__), "data.csv")

@step(outputs=["text"])
def load_data():
    with open(DATA) as f:
        text = f.read()
    # another process (an editor, a sync) rewrites the file while the step is still running
    subprocess.run(["sh", "-c", f"echo late >> {DATA}"], check=True)
    return text

pipeline = Pipeline("mid").add_step(load_data)
"""


def test_a_file_changed_while_its_step_ran_keeps_the_result_for_that_run_only(
    write_file, load, tmp_path
):
    (tmp_path / "data.csv").write_text("a\n")
    path = write_file("mid.py", CHANGES_MID_STEP)
    first = load(path).run()
    step = first.step_results["load_data"]
    assert first["text"] == "a\n"
    assert "data.csv changed while load_data ran" in step.reason
    assert step.key is None  # no entry says this result is valid for the new content
    second = load(path).run()
    assert not second.step_results["load_data"].cached


DECLARED = """
import ctypes, os
import numpy
from flowyml_tui import Pipeline, step

HERE = os.path.dirname(__file__)
LIBC = ctypes.CDLL(None)

def c_read(path):
    # read through libc, as a C library's own reader (pyarrow, h5py) does: no audit event
    fd = LIBC.open(path.encode(), os.O_RDONLY)
    buf = ctypes.create_string_buffer(1 << 16)
    size = LIBC.read(fd, buf, len(buf))
    LIBC.close(fd)
    return numpy.frombuffer(buf.raw[:size], dtype="float64")

@step(outputs=["total"], reads=["data/*.bin"])
def declared():
    names = sorted(n for n in os.listdir(os.path.join(HERE, "data")))
    return float(sum(c_read(os.path.join(HERE, "data", n)).sum() for n in names))

@step(outputs=["unseen"])
def undeclared():
    return float(c_read(os.path.join(HERE, "data", "a.bin")).sum())

@step(outputs=["first"], reads="data/*.bin")
def first_only():
    return float(c_read(os.path.join(HERE, "data", "a.bin")).sum())

pipeline = Pipeline("declared").add_step(declared).add_step(undeclared).add_step(first_only)
"""


def test_declared_reads_cover_a_c_level_reader(write_file, load, tmp_path):
    np = need("numpy")
    (tmp_path / "data").mkdir()
    np.array([1.0, 2.0]).tofile(tmp_path / "data" / "a.bin")
    path = write_file("declared.py", DECLARED)
    assert load(path).run()["total"] == 3.0
    np.array([1.0, 5.0]).tofile(tmp_path / "data" / "a.bin")  # same size, new bytes
    result = load(path).run()
    assert result.step_results["declared"].reason == "file changed: data/a.bin"
    assert result["total"] == 6.0
    # the hook cannot see a C library's read: without reads= the stale value stays
    assert result.step_results["undeclared"].cached
    np.array([4.0]).tofile(tmp_path / "data" / "b.bin")
    added = load(path).run()
    assert added.step_results["declared"].reason == "folder changed: data/ (+1 files)"
    assert added["total"] == 10.0
    assert added.step_results["first_only"].reason == "files matching data/*.bin changed (+1)"


SQLITE = """
import os, sqlite3
from flowyml_tui import Pipeline, step

DB = os.path.join(os.path.dirname(__file__), "shop.db")

@step(outputs=["orders"])
def orders():
    with sqlite3.connect(DB) as db:
        return db.execute("select count(*) from orders").fetchone()[0]

pipeline = Pipeline("shop").add_step(orders)
"""


def test_a_changed_sqlite_table_re_runs_its_reader(write_file, load, tmp_path):
    db_path = tmp_path / "shop.db"
    with sqlite3.connect(db_path) as db:
        db.execute("create table orders (id integer)")
        db.execute("insert into orders values (1)")
    path = write_file("shop.py", SQLITE)
    assert load(path).run()["orders"] == 1
    assert load(path).run().step_results["orders"].cached
    with sqlite3.connect(db_path) as db:
        db.execute("insert into orders values (2)")
    result = load(path).run()
    assert result.step_results["orders"].reason == "database changed: shop.db"
    assert result["orders"] == 2


TRACK_OFF = LOADER.replace('@step(outputs=["rows"])', '@step(outputs=["rows"], track_reads=False)')


def test_track_reads_false_turns_recording_off(write_file, load, tmp_path):
    (tmp_path / "data.csv").write_text("a,1\n")
    path = write_file("off.py", TRACK_OFF)
    assert load(path).run()["count"] == 1
    (tmp_path / "data.csv").write_text("a,1\nb,2\n")
    result = load(path).run()
    assert result.step_results["load_data"].cached  # the user said so
    assert result["count"] == 1


DEFAULTS = """
from flowyml_tui import Pipeline, step

@step(outputs=["kept"])
def keep(threshold: int = 10):
    return threshold

pipeline = Pipeline("defaults").add_step(keep)
"""


def test_a_context_value_equal_to_the_default_is_the_same_key(write_file, load):
    path = write_file("defaults.py", DEFAULTS)
    first = load(path).run()
    same = load(path).run(context={"threshold": 10})
    assert same.step_results["keep"].cached
    assert same.step_results["keep"].key == first.step_results["keep"].key
    other = load(path).run(context={"threshold": 11})
    assert other.step_results["keep"].reason_kind is ReasonKind.CONTEXT_CHANGED
    assert other["kept"] == 11


def test_reads_are_in_the_run_record_with_path_and_digest(loader, tmp_path):
    make, data = loader
    pipeline = make()
    result = pipeline.run()
    record = load_run(tmp_path / "cache")
    (step,) = [s for s in record["steps"] if s["name"] == "load_data"]
    (read,) = step["reads"]
    assert read["path"] == "data.csv" and read["kind"] == "file"
    assert len(read["digest"]) == 32 and read["size"] == data.stat().st_size
    assert read["declared"] is False
    assert result.step_results["untouched"].cached is False


@pytest.fixture(scope="module")
def dask_client():
    distributed = need("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("where", ["process", "dask"])
def test_reads_are_recorded_in_worker_processes_and_on_dask(loader, where, request):
    make, data = loader
    if where == "process":
        runner = ProcessRunner(2)
    else:
        from flowyml_tui.engine.run.dask import DaskRunner

        runner = DaskRunner(client=request.getfixturevalue("dask_client"))
    try:
        first = make().run(runner=runner)
        assert first["count"] == 2
        assert all(r.cached for r in make().run(runner=runner).step_results.values())
        with data.open("a") as f:
            f.write("c,3\n")
        again = make().run(runner=runner)
        assert again.step_results["load_data"].reason == "file changed: data.csv"
        assert again["count"] == 3
    finally:
        runner.close()
        InlineRunner().close()


def test_recording_costs_nothing_outside_a_step(tmp_path):
    """The hook is installed by the first recorded step and ignores every other event."""
    code = (
        "import sys\n"
        "from flowyml_tui.engine.reads.recorder import recording\n"
        f"open({str(tmp_path / 'f')!r}, 'w').close()\n"
        "with recording() as r:\n"
        f"    open({str(tmp_path / 'f')!r}).read()\n"
        f"open({str(tmp_path / 'g')!r}, 'w').close()\n"
        f"open({str(tmp_path / 'g')!r}).read()\n"
        "print(sorted(r.reads))\n"
    )
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == repr([str(tmp_path / "f")])


def test_the_html_and_markdown_reports_show_what_each_step_read(loader, tmp_path):
    from flowyml_tui.report.html import render_html
    from flowyml_tui.report.markdown import render_markdown

    make, data = loader
    make().run()
    data.write_text("<script>x</script>,1\n")
    make().run()
    record = load_run(tmp_path / "cache")  # the newest: run ids sort only to the second
    (digest,) = [r["digest"] for s in record["steps"] for r in s.get("reads", [])]
    line = f"data.csv  {data.stat().st_size} B  {digest[:12]}"
    markdown = render_markdown(record)
    assert "#### Files read" in markdown and line in markdown
    assert line in render_html(record)
    html = render_html(record)
    assert "<script>x" not in html  # the file's text in the diff is escaped
