"""A setting that cannot work is one line on stderr saying what and what to do, exit 2.

Every case is typed as a user would, in a fresh process: no traceback, nothing run.
"""

from __future__ import annotations

import pytest

from tests.cli_process import run_cli

pytestmark = pytest.mark.timeout(90)

PIPE = """
from flowyml_tui import Pipeline, step

@step(outputs=["a"])
def first():
    print("first ran")
    return 1

pipeline = Pipeline("demo").add_step(first)
"""

SHARED = {"FLOWYML_TUI_SHARED": "redis://127.0.0.1:1/0", "FLOWYML_TUI_SECRET": "team"}

CASES = {
    "shared-http": (["--shared", "http://host"], {}, "not a Redis URL"),
    "shared-env-http": ([], {"FLOWYML_TUI_SHARED": "http://host"}, "not a Redis URL"),
    "jobs-0": (["--jobs", "0"], {}, "--jobs must be at least 1, got 0"),
    "jobs-negative": (["--jobs", "-2"], {}, "--jobs must be at least 1, got -2"),
    "ttl": ([], {**SHARED, "FLOWYML_TUI_SHARED_TTL": "a week"}, "$FLOWYML_TUI_SHARED_TTL"),
    "max-value": (
        [],
        {**SHARED, "FLOWYML_TUI_SHARED_MAX_VALUE": "64M"},
        "$FLOWYML_TUI_SHARED_MAX_VALUE",
    ),
    "retry": ([], {**SHARED, "FLOWYML_TUI_SHARED_RETRY": "soon"}, "$FLOWYML_TUI_SHARED_RETRY"),
    "blobs-scheme": (
        ["--blobs", "nosuch://bucket/prefix"],
        {"FLOWYML_TUI_SECRET": "team"},
        "uses nosuch://, which fsspec does not know",
    ),
    "blobs-threshold": (
        [],
        {
            "FLOWYML_TUI_BLOBS": "s3://bucket/prefix",
            "FLOWYML_TUI_SECRET": "team",
            "FLOWYML_TUI_BLOBS_THRESHOLD": "1MB",
        },
        "$FLOWYML_TUI_BLOBS_THRESHOLD",
    ),
    "secret-file": (
        [],
        {"FLOWYML_TUI_SHARED": "redis://127.0.0.1:1/0", "FLOWYML_TUI_SECRET_FILE": "/no/such/key"},
        "cannot read the team secret file /no/such/key",
    ),
}


def _one_error_line(stderr: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("flowyml-tui: error: ") and expected in lines[0], stderr


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_run_refuses_a_bad_setting_in_one_line(case, write_file, tmp_path) -> None:
    args, env, expected = CASES[case]
    path = write_file("demo.py", PIPE)
    result = run_cli("run", path, "--cache-dir", tmp_path / "cache", *args, env=env)
    assert result.returncode == 2, result.stderr
    _one_error_line(result.stderr, expected)
    assert "first ran" not in result.stdout and not (tmp_path / "cache" / "runs").exists()


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_workbench_refuses_a_bad_setting_before_its_screen(case, write_file, tmp_path) -> None:
    args, env, expected = CASES[case]
    path = write_file("demo.py", PIPE)
    result = run_cli(path, "--cache-dir", tmp_path / "cache", *args, env=env)
    assert result.returncode == 2, result.stderr
    _one_error_line(result.stderr, expected)


def test_an_unreachable_dask_scheduler_is_named_after_ten_seconds(write_file, tmp_path) -> None:
    path = write_file("demo.py", PIPE)
    result = run_cli("run", path, "--cache-dir", tmp_path / "cache", "--dask", "tcp://127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    _one_error_line(result.stderr, "cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert "first ran" not in result.stdout


def test_no_cache_needs_no_cache_dir(write_file, tmp_path) -> None:
    (tmp_path / "blocker").write_text("a file where the cache dir's parent should be")
    path = write_file("demo.py", PIPE)
    result = run_cli("run", path, "--cache-dir", tmp_path / "blocker" / "cache", "--no-cache")
    assert result.returncode == 0, result.stderr
    assert "1 steps" in result.stdout or "1 step," in result.stdout
    assert "Traceback" not in result.stderr
