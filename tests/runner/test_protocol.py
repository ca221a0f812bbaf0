"""Runner messages and engine events share one JSON-lines channel and decode back exactly."""

from __future__ import annotations

import pytest

from flowyml_tui.engine.events import RunStarted, StepInfo, StepLog
from flowyml_tui.runner.protocol import (
    ChildExited,
    ChildOutput,
    LoadFailed,
    ModulesImported,
    PipelinesFound,
    ProtocolError,
    RunCancelled,
    WarmedUp,
    WorkerExiting,
    decode_message,
)

RUNNER_MESSAGES = [
    PipelinesFound("/p/etl.py", ("etl", "report"), "etl", ("/p/helpers.py",)),
    LoadFailed("/p/etl.py", 3, "SyntaxError: invalid syntax", "Traceback ..."),
    LoadFailed("/p/etl.py", None, "no pipeline", ""),
    ChildOutput("hello\n", "stdout"),
    ChildExited(-11, "SIGSEGV", "Fatal Python error", "killed by SIGSEGV", "/p/etl.py", 7, "boom"),
    RunCancelled("file changed"),
    WorkerExiting(3, "the pipeline called sys.exit(3)", "/p/etl.py", 7, "boom"),
    ModulesImported(("pandas", "pandas.core", "sklearn.linear_model"), ("pandas", "sklearn")),
    WarmedUp(("numpy", "pandas"), 812, 150_000_000, complete=False),
]


@pytest.mark.parametrize("message", RUNNER_MESSAGES, ids=lambda m: type(m).__name__)
def test_runner_messages_round_trip_through_one_json_line(message):
    line = message.to_json()

    assert "\n" not in line
    assert decode_message(line) == message


def test_engine_events_decode_on_the_same_channel():
    started = RunStarted(
        "r1", "etl", 1.0, (StepInfo("load", (), ("raw",), (), "code_hash"),), "/p/etl.py"
    )
    log = StepLog("r1", "load", "stdout", '{"event": "run_finished"}\n')

    assert decode_message(started.to_json()) == started
    assert decode_message(log.to_json().encode()) == log


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("hello from a print", "not a JSON line"),
        ("[1, 2]", "no 'event' field"),
        ('{"event": "teleported"}', "unknown message type 'teleported'"),
    ],
)
def test_a_line_that_is_not_a_message_is_a_clear_protocol_error(line, problem):
    with pytest.raises(ProtocolError, match=problem):
        decode_message(line)
