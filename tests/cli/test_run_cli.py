"""`flowyml-tui run` and `flowyml-tui cache`, run as a user types them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli_process import run_cli

PIPE = """
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def first(n: int = 2):
    print("first says hi")
    return n

@step(inputs=["a"], outputs=["b"])
def second(a):
    return a * 10

pipeline = Pipeline("demo")
pipeline.add_step(first).add_step(second)
"""


def cli(*args, cwd=None):
    return run_cli(*args, cwd=cwd)


@pytest.fixture
def demo(write_file, tmp_path):
    return write_file("demo.py", PIPE), tmp_path / "cache"


def test_run_prints_a_line_per_step_and_the_hit_rate(demo):
    path, cache = demo
    first = cli("run", path, "--cache-dir", cache)
    assert first.returncode == 0, first.stderr
    assert "● ran      first" in first.stdout and "new step" in first.stdout
    second = cli("run", path, "--cache-dir", cache)
    assert "✓ cached   first" in second.stdout
    assert "2 steps, 0 executed, 2 cached · hit rate 100%" in second.stdout


def test_run_json_is_machine_readable(demo):
    path, cache = demo
    out = cli("run", path, "--cache-dir", cache, "--json")
    data = json.loads(out.stdout)
    assert data["pipeline"] == "demo"
    assert [s["status"] for s in data["steps"]] == ["executed", "executed"]
    assert [s["reason"] for s in data["steps"]] == ["new step", "new step"]


def test_run_context_values_are_parsed_as_json(demo):
    path, cache = demo
    cli("run", path, "--cache-dir", cache)
    out = cli("run", path, "--cache-dir", cache, "-c", "n=5", "--json")
    steps = {s["name"]: s for s in json.loads(out.stdout)["steps"]}
    assert steps["first"]["reason"] == "context key n changed"


def test_run_verbose_echoes_step_output(demo):
    path, cache = demo
    out = cli("run", path, "--cache-dir", cache, "-v")
    assert "first | first says hi" in out.stdout


def test_dry_run_plans_without_running(demo):
    path, cache = demo
    out = cli("run", path, "--cache-dir", cache, "--dry-run")
    assert out.returncode == 0
    assert "run     first" in out.stdout and "new step" in out.stdout
    assert not (cache / "runs").exists()


def test_a_failed_step_exits_1_with_its_traceback(write_file, tmp_path):
    path = write_file(
        "fails.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["x"])
        def explode():
            raise KeyError("missing column")

        pipeline = Pipeline("fails").add_step(explode)
        """,
    )
    out = cli("run", path, "--cache-dir", tmp_path / "cache")
    assert out.returncode == 1
    assert "✗ failed   explode" in out.stdout
    assert "explode failed:" in out.stdout and "KeyError: 'missing column'" in out.stdout


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "no such file"),
        ("x = 1\n", "defines no Pipeline"),
        ("def broken(:\n", "syntax error"),
        (
            "from flowyml_tui import Pipeline\na = Pipeline('a')\nb = Pipeline('b')\n",
            "several pipelines (a, b); choose one with --pipeline NAME",
        ),
        (
            "from flowyml_tui import Pipeline, step\n"
            "@step(inputs=['y'], outputs=['x'])\ndef fx(y): return y\n"
            "@step(inputs=['x'], outputs=['y'])\ndef fy(x): return x\n"
            "pipeline = Pipeline('loop').add_step(fx).add_step(fy)\n",
            "the steps form a cycle",
        ),
        (
            "from flowyml_tui import Pipeline, step\n"
            "@step(inputs=['raw'], outputs=['x'])\ndef fx(raw): return raw\n"
            "pipeline = Pipeline('p').add_step(fx)\n",
            "needs input 'raw'",
        ),
        (
            "from flowyml_tui import Pipeline, step\n"
            "@step(outputs=['x'])\ndef one(): return 1\n"
            "@step(outputs=['x'])\ndef two(): return 2\n"
            "pipeline = Pipeline('p').add_step(one).add_step(two)\n",
            "output 'x' is produced by both 'one' and 'two'",
        ),
    ],
    ids=[
        "missing-file",
        "no-pipeline",
        "syntax",
        "ambiguous",
        "cycle",
        "missing-input",
        "duplicate-output",
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, source, expected):
    path = tmp_path / "bad.py"
    if source is not None:
        path.write_text(source)
    out = cli("run", path, "--cache-dir", tmp_path / "cache")
    assert out.returncode == 2
    assert out.stdout == ""  # no "pipeline ..." header before an error that stops the run
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("flowyml-tui: error: ")
    assert expected in lines[0]
    assert "Traceback" not in out.stderr


def test_debug_adds_the_traceback(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("x = 1\n")
    out = cli("run", path, "--debug")
    assert out.returncode == 2
    assert "Traceback" in out.stderr


def test_an_unknown_option_is_an_argparse_error(demo):
    path, _ = demo
    out = cli("run", path, "--frobnicate")
    assert out.returncode == 2
    assert "unrecognized arguments: --frobnicate" in out.stderr


def test_cache_stats_ls_pin_unpin_and_clear(demo):
    path, cache = demo
    cli("run", path, "--cache-dir", cache)
    cli("run", path, "--cache-dir", cache)
    stats = json.loads(cli("cache", "stats", "--json", "--cache-dir", cache).stdout)
    assert stats["entries"] == 2 and stats["hits"] == 2 and stats["misses"] == 2
    listing = cli("cache", "ls", "--step", "second", "--cache-dir", cache).stdout
    assert listing.startswith("second ")
    assert "pinned first" in cli("cache", "pin", "first", "--cache-dir", cache).stdout
    assert "◆ pinned   first" in cli("run", path, "--cache-dir", cache).stdout
    assert cli("cache", "unpin", "first", "--cache-dir", cache).returncode == 0
    again = cli("cache", "unpin", "first", "--cache-dir", cache)  # idempotent, like rm -f
    assert again.returncode == 0 and "first is not pinned" in again.stdout
    refused = cli("cache", "clear", "--cache-dir", cache)
    assert refused.returncode == 1 and "pass --yes" in refused.stderr
    assert cli("cache", "clear", "--step", "first", "--yes", "--cache-dir", cache).returncode == 0
    again = cli("run", path, "--cache-dir", cache, "--json")
    steps = {s["name"]: s["reason"] for s in json.loads(again.stdout)["steps"]}
    assert steps == {"first": "new step", "second": "cached"}


def test_cache_commands_on_a_missing_cache_say_so(tmp_path):
    out = cli("cache", "stats", "--cache-dir", tmp_path / "nowhere")
    assert out.returncode == 2
    assert "no cache at" in out.stderr


def test_pinning_a_step_with_no_entry_is_a_clear_error(demo):
    path, cache = demo
    cli("run", path, "--cache-dir", cache)
    out = cli("cache", "pin", "nonexistent", "--cache-dir", cache)
    assert out.returncode == 2
    assert "has no cached result to pin" in out.stderr


def test_counts_read_as_english(demo):
    path, cache = demo
    cli("run", path, "--cache-dir", cache)
    stats = cli("cache", "stats", "--cache-dir", cache).stdout
    assert "2 entries" in stats and "0 hits / 2 misses" in stats
    assert "1 entry " in stats and "0 hits / 1 miss\n" in stats
    per_step = [line for line in stats.splitlines() if line.startswith("  first ")]
    assert per_step and "entries" not in per_step[0] and "1 entry" in per_step[0]


def test_a_skipped_step_shows_no_duration(write_file, tmp_path):
    path = write_file(
        "skips.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["x"])
        def explode():
            raise KeyError("missing column")

        @step(inputs=["x"], outputs=["y"])
        def after(x):
            return x

        pipeline = Pipeline("skips").add_step(explode).add_step(after)
        """,
    )
    out = cli("run", path, "--cache-dir", tmp_path / "cache")
    line = next(line for line in out.stdout.splitlines() if " after " in line)
    assert "µs" not in line and " - " in line, line


@pytest.mark.parametrize("command", [("runs",), ("cache", "stats", "--json")])
def test_a_reader_that_leaves_early_is_not_an_error(demo, command):
    """`flowyml-tui runs | head -3`: the pipe closes before we finish writing."""
    path, cache = demo
    for _ in range(3):
        cli("run", path, "--cache-dir", cache)
    args = [*command, "--cache-dir", cache]
    child = subprocess.Popen(
        [sys.executable, "-m", "flowyml_tui", *map(str, args)],
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    child.stdout.close()  # the reader is gone before the first write
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141  # as if killed by SIGPIPE, what shells expect
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_pinning_an_unknown_step_names_it_and_lists_the_known_ones(demo):
    path, cache = demo
    cli("run", path, "--cache-dir", cache)
    out = cli("cache", "pin", "nosuchstep", "--cache-dir", cache)
    assert out.returncode == 2
    assert "unknown step 'nosuchstep'" in out.stderr
    assert "known steps: first, second" in out.stderr


def test_pinning_a_known_step_that_has_no_entry_is_not_unknown(write_file, tmp_path):
    path = write_file(
        "breaks.py",
        """
        from flowyml_tui import Pipeline, step

        @step(outputs=["a"])
        def first():
            return 1

        @step(inputs=["a"], outputs=["b"])
        def second(a):
            raise ValueError("no")

        pipeline = Pipeline("breaks").add_step(first).add_step(second)
        """,
    )
    cache = tmp_path / "cache"
    cli("run", path, "--cache-dir", cache)
    out = cli("cache", "pin", "second", "--cache-dir", cache)
    assert out.returncode == 2
    assert "has no cached result to pin" in out.stderr
    assert "unknown step" not in out.stderr
