"""Per-step output capture: each step gets exactly its own prints, even when steps run at once."""

from __future__ import annotations

import logging
import sys
import threading

from flowyml_tui.engine.call.capture import capture_output
from flowyml_tui.engine.call.invoke import call_step

LINES = 300


def _collect() -> tuple[list[tuple[str, str]], object]:
    logs: list[tuple[str, str]] = []
    return logs, lambda stream, text: logs.append((stream, text))


def _run_at_once(*targets) -> None:
    """Start the targets on threads of their own and re-raise the first failure."""
    errors: list[BaseException] = []

    def guarded(target):
        def run():
            try:
                target()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_two_captures_on_two_threads_each_get_exactly_their_own_prints():
    barrier = threading.Barrier(2)
    collected = {}

    def talk(name: str):
        def body():
            logs, sink = _collect()
            collected[name] = logs
            with capture_output(sink):
                barrier.wait()
                for i in range(LINES):
                    print(f"{name} {i}")
                    if i % 50 == 0:
                        barrier.wait()  # force the two threads' lines to interleave
                print(f"{name} err", file=sys.stderr)

        return body

    _run_at_once(talk("left"), talk("right"))
    for name in ("left", "right"):
        expected = [("stdout", f"{name} {i}\n") for i in range(LINES)]
        assert collected[name] == [*expected, ("stderr", f"{name} err\n")]


def test_two_step_calls_on_two_threads_keep_their_prints_and_log_records():
    barrier = threading.Barrier(2)
    collected = {}

    def make_step(name: str):
        def step_function(count: int) -> int:
            barrier.wait()
            for i in range(count):
                print(f"{name} line {i}")
                logging.getLogger(name).warning("%s record %d", name, i)
            return count

        return step_function

    def call(name: str):
        def body():
            logs, sink = _collect()
            collected[name] = logs
            assert call_step(name, make_step(name), {"count": LINES}, sink) == LINES

        return body

    _run_at_once(call("alpha"), call("beta"))
    for name in ("alpha", "beta"):
        expected = []
        for i in range(LINES):
            expected += [
                ("stdout", f"{name} line {i}\n"),
                ("log", f"WARNING {name}: {name} record {i}\n"),
            ]
        assert collected[name] == expected


def test_bytes_written_to_stdout_buffer_are_captured_as_utf8():
    logs, sink = _collect()

    def writes_bytes() -> None:
        print("text first")
        encoded = "café ünïcode\n".encode()
        sys.stdout.buffer.write(encoded[:4])  # splits the two bytes of "é"
        sys.stdout.buffer.write(encoded[4:])
        sys.stdout.buffer.write(b"bad \xff byte\n")
        sys.stdout.buffer.flush()

    call_step("bytes", writes_bytes, {}, sink)
    assert logs == [
        ("stdout", "text first\n"),
        ("stdout", "café ünïcode\n"),
        ("stdout", "bad \ufffd byte\n"),
    ]


def test_a_step_writing_to_stdout_buffer_runs_and_is_captured(write_file, load):
    path = write_file(
        "raw.py",
        """
        import sys
        from flowyml_tui import Pipeline, step

        @step(outputs=["n"])
        def raw_bytes():
            sys.stdout.buffer.write(b"raw bytes\\n")
            return 1

        pipeline = Pipeline("raw").add_step(raw_bytes)
        """,
    )
    result = load(path).run()
    assert result.step_results["raw_bytes"].status.value == "executed"
    assert result.step_results["raw_bytes"].logs == [("stdout", "raw bytes\n")]


def test_while_capturing_the_stream_says_utf8_not_a_tty_and_keeps_the_real_descriptor(
    tmp_path, monkeypatch
):
    real = open(tmp_path / "out.txt", "w", encoding="latin-1")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", real)
    logs, sink = _collect()
    with capture_output(sink):
        seen = (sys.stdout.isatty(), sys.stdout.encoding, sys.stdout.fileno())
    assert seen == (False, "utf-8", real.fileno())
    assert sys.stdout.encoding == "latin-1"
    print("after the step")
    sys.stdout.flush()
    real.close()
    assert logs == []
    assert (tmp_path / "out.txt").read_text(encoding="latin-1") == "after the step\n"


def test_output_outside_any_step_goes_to_the_real_stream_while_a_step_captures(capsys):
    inside = threading.Event()
    done = threading.Event()
    logs, sink = _collect()

    def step_body():
        with capture_output(sink):
            print("mine")
            inside.set()
            done.wait(5)

    thread = threading.Thread(target=step_body)
    thread.start()
    inside.wait(5)
    print("not the step's")
    done.set()
    thread.join()
    assert logs == [("stdout", "mine\n")]
    assert "not the step's\n" in capsys.readouterr().out


def test_a_thread_started_inside_a_step_is_captured_for_that_step_until_it_ends(capsys):
    logs, sink = _collect()
    later = threading.Event()
    printed_later = threading.Event()

    def helper():
        print("from the helper thread")
        later.wait(5)
        print("after the step ended")
        printed_later.set()

    with capture_output(sink):
        thread = threading.Thread(target=helper)
        thread.start()
        thread.join(0.2)
    later.set()
    printed_later.wait(5)
    thread.join()
    assert logs == [("stdout", "from the helper thread\n")]
    assert "after the step ended\n" in capsys.readouterr().out


def test_info_records_are_captured_when_logging_is_not_configured():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    try:
        logs, sink = _collect()
        with capture_output(sink):
            logging.getLogger("etl").info("loaded")
        assert logs == [("log", "INFO etl: loaded\n")]
        assert root.level == logging.WARNING and root.handlers == []
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
