"""Broken user code is reported with its file and line; it never hangs or corrupts the session."""

from __future__ import annotations

import pytest

from flowyml_tui.engine.events import RunFinished, StepFinished
from flowyml_tui.runner.protocol import ChildExited, LoadFailed, PipelinesFound

pytestmark = pytest.mark.timeout(30)


def test_a_syntax_error_points_at_its_own_line(write_pipeline, run_file):
    path = write_pipeline(
        """
        @step(outputs=["x"])
        def broken(:
            return 1
        """
    )

    messages = run_file(path)

    assert len(messages) == 1 and isinstance(messages[0], LoadFailed)
    failed = messages[0]
    assert failed.file == str(path) and failed.line == 4
    assert "SyntaxError" in failed.traceback
    assert "def broken(:" in failed.traceback
    assert "importlib" not in failed.traceback  # the user's line, not the import machinery


def test_a_syntax_error_in_a_helper_module_points_at_the_helper(tmp_path, write_pipeline, run_file):
    helper = tmp_path / "helpers.py"
    helper.write_text("x = 1\ny = = 2\n", encoding="utf-8")
    path = write_pipeline("import helpers\n")

    failed = run_file(path)[-1]

    assert isinstance(failed, LoadFailed)
    assert failed.file == str(helper) and failed.line == 2


def test_an_import_error_points_at_the_import(write_pipeline, run_file):
    path = write_pipeline("import os\nimport no_such_module_for_flowyml_tests\n")

    failed = run_file(path)[-1]

    assert isinstance(failed, LoadFailed)
    assert failed.line == 3 and failed.file == str(path)
    assert "no_such_module_for_flowyml_tests" in failed.message


def test_an_exception_at_import_time_points_at_the_deepest_line_in_the_file(
    write_pipeline, run_file
):
    path = write_pipeline(
        """
        def settings():
            return {"rows": 10}["columns"]

        SETTINGS = settings()
        """
    )

    failed = run_file(path)[-1]

    assert isinstance(failed, LoadFailed)
    assert failed.file == str(path) and failed.line == 4
    assert "KeyError" in failed.message and "columns" in failed.traceback


def test_a_file_without_a_pipeline_is_a_load_failure_saying_how_to_make_one(
    write_pipeline, run_file
):
    path = write_pipeline("x = 1\n")

    failed = run_file(path)[-1]

    assert isinstance(failed, LoadFailed)
    assert "defines no Pipeline" in failed.message and "Pipeline('name')" in failed.message


def test_sys_exit_at_import_time_is_a_load_failure_at_that_line(write_pipeline, run_file):
    path = write_pipeline("import sys\nsys.exit(3)\n")

    failed = run_file(path)[-1]

    assert isinstance(failed, LoadFailed)
    assert failed.line == 3 and "sys.exit(3)" in failed.message


def test_a_file_without_a_pipeline_says_how_to_make_one(write_pipeline, run_file):
    failed = run_file(write_pipeline("x = 1\n"))[-1]

    assert isinstance(failed, LoadFailed)
    assert "Pipeline(" in failed.message


def test_an_unknown_pipeline_name_lists_the_ones_there_are(write_pipeline, run_file):
    path = write_pipeline(
        """
        @step(outputs=["x"])
        def one():
            return 1

        etl = Pipeline("etl").add_step(one)
        """
    )

    failed = run_file(path, pipeline="nope")[-1]

    assert isinstance(failed, LoadFailed)
    assert "'nope'" in failed.message and "'etl'" in failed.message


def _one_step(body: str) -> str:
    lines = "\n".join("        " + line for line in body.strip().splitlines())
    return f"""
    import os, sys, ctypes

    @step(outputs=["x"])
    def boom():
{lines}
        return 1

    pipeline = Pipeline("crashy").add_step(boom)
    """


def test_sys_exit_in_a_step_ends_the_child_with_its_code_and_line(write_pipeline, run_file):
    path = write_pipeline(_one_step("sys.exit(3)"))

    messages = run_file(path)

    exited = messages[-1]
    assert isinstance(exited, ChildExited)
    assert exited.returncode == 3 and exited.signal is None
    assert exited.step == "boom" and exited.file == str(path) and exited.line == 7
    assert "sys.exit(3)" in exited.message
    assert not [m for m in messages if isinstance(m, RunFinished)]


def test_os_exit_in_a_step_is_reported_with_the_running_step(write_pipeline, run_file):
    path = write_pipeline(_one_step("os._exit(1)"))

    exited = run_file(path)[-1]

    assert isinstance(exited, ChildExited)
    assert exited.returncode == 1 and exited.signal is None
    assert exited.step == "boom" and "'boom'" in exited.message
    assert exited.file == str(path)


def test_a_segfault_in_a_step_is_reported_with_the_signal_and_line(write_pipeline, run_file):
    path = write_pipeline(_one_step("ctypes.string_at(0)"))

    exited = run_file(path)[-1]

    assert isinstance(exited, ChildExited)
    assert exited.signal == "SIGSEGV" and exited.returncode == -11
    assert exited.file == str(path) and exited.line == 7
    assert "Fatal Python error" in exited.stderr_tail


def test_a_crash_after_lots_of_stderr_still_finds_the_line(write_pipeline, run_file):
    noise = 'for _ in range(3000):\n    os.write(2, b"noise ")\nctypes.string_at(0)'
    path = write_pipeline(_one_step(noise))

    exited = run_file(path)[-1]

    assert isinstance(exited, ChildExited) and exited.signal == "SIGSEGV"
    assert exited.line == 9
    assert len(exited.stderr_tail) <= 8000 and "Fatal Python error" in exited.stderr_tail


def test_an_exception_in_a_step_is_a_failed_step_not_a_crash(write_pipeline, run_file):
    path = write_pipeline(_one_step("raise ValueError('bad row')"))

    messages = run_file(path)

    assert isinstance(messages[0], PipelinesFound)
    failed = [m for m in messages if isinstance(m, StepFinished)]
    assert failed[0].status == "failed" and "bad row" in (failed[0].error or "")
    assert isinstance(messages[-1], RunFinished) and messages[-1].status == "failed"


def test_the_next_run_after_a_failure_recovers(write_pipeline, run_file):
    path = write_pipeline("import sys\nsys.exit(3)\n")
    assert isinstance(run_file(path)[-1], LoadFailed)

    path = write_pipeline(_one_step("pass"))

    assert isinstance(run_file(path)[-1], RunFinished)
