"""A chatty step's lines travel in batches: far fewer channel lines than printed lines, the same
order, stream and step for every line, all of them before the step's `StepFinished`, and a
line printed mid-burst still arrives while the step runs (within the batch window)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from flowyml_tui.engine.events import StepFinished, StepLog
from flowyml_tui.runner.protocol import StepLogBatch, decode_line, encode_log_batch
from flowyml_tui.runner.session import RunSession

CHATTY = """
import sys

@step(outputs=["a"])
def first():
    for i in range(3000):
        stream = sys.stderr if i % 7 == 0 else sys.stdout
        print("first", i, file=stream)
    return 1

@step(inputs=["a"], outputs=["b"])
def second(a):
    for i in range(1000):
        print("second", i)
    return 2

pipeline = Pipeline("chatty").add_step(first).add_step(second)
"""


def _worker_channel(path: Path, tmp_path: Path) -> list[bytes]:
    """Run the worker by hand with its events fd on a file: the channel's own lines."""
    events = tmp_path / "events.jsonl"
    with events.open("wb") as sink:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "flowyml_tui.runner.worker",
                str(path),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--events-fd",
                str(sink.fileno()),
            ],
            pass_fds=(sink.fileno(),),
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=60,
        )
    return events.read_bytes().splitlines(keepends=True)


def test_printed_lines_arrive_batched_in_order_with_their_stream_and_step(write_pipeline, tmp_path):
    path = write_pipeline(CHATTY)
    lines = _worker_channel(path, tmp_path)
    messages = [m for line in lines for m in decode_line(line)]
    logs = [m for m in messages if isinstance(m, StepLog)]

    assert len(logs) == 4000
    assert len(lines) < 400  # batched: not one channel line per printed line
    expected = [
        ("first", "stderr" if i % 7 == 0 else "stdout", f"first {i}\n") for i in range(3000)
    ] + [("second", "stdout", f"second {i}\n") for i in range(1000)]
    assert [(m.step, m.stream, m.text) for m in logs] == expected
    for step in ("first", "second"):
        finished = next(
            i for i, m in enumerate(messages) if isinstance(m, StepFinished) and m.step == step
        )
        last = max(i for i, m in enumerate(messages) if isinstance(m, StepLog) and m.step == step)
        assert last < finished


def test_a_line_printed_mid_burst_arrives_while_the_step_still_runs(
    write_pipeline, tmp_path, cache_dir
):
    """The step prints a burst, then waits for the test to have seen its last line: a batch
    held until the step ends would never arrive, and the step would time out."""
    go = tmp_path / "go"
    path = write_pipeline(
        f"""
        import os, time

        @step(outputs=["x"])
        def waits():
            for i in range(5):
                print("burst", i)
            deadline = time.time() + 20
            while not os.path.exists({str(go)!r}):
                if time.time() > deadline:
                    raise TimeoutError("the burst never reached the parent")
                time.sleep(0.01)
            return 1

        pipeline = Pipeline("waits").add_step(waits)
        """
    )

    async def main() -> list[object]:
        session = RunSession(path, cache_dir=cache_dir)
        seen: list[object] = []
        try:
            async for message in session.run():
                seen.append(message)
                if isinstance(message, StepLog) and message.text == "burst 4\n":
                    go.touch()
        finally:
            await session.aclose()
        return seen

    seen = asyncio.run(main())
    finished = next(m for m in seen if isinstance(m, StepFinished))
    assert finished.status == "executed", finished.error


def test_a_batch_round_trips_lone_surrogates_and_protocol_lookalikes():
    logs = [
        StepLog("r", "s", "stdout", '{"event":"step_logs","logs":[]}\n'),
        StepLog("r", "s", "stderr", "bad \udce9 byte\n"),
        StepLog("r", "t", "log", "plain\n"),
    ]
    line = encode_log_batch(logs)

    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_line(line) == logs


def test_a_session_hands_a_consumer_whole_batches_or_single_lines_alike(write_pipeline, tmp_path):
    """`run(batched_logs=True)` gives the worker's batches as `StepLogBatch`es in their place:
    the same lines, in the same order relative to every other message, as one at a time."""
    path = write_pipeline(CHATTY)

    async def messages(batched: bool, cache: str) -> list[object]:
        session = RunSession(path, cache_dir=str(tmp_path / cache))
        try:
            return [m async for m in session.run(batched_logs=batched)]
        finally:
            await session.aclose()

    single = asyncio.run(messages(False, "one"))
    batched = asyncio.run(messages(True, "two"))
    batches = [m for m in batched if isinstance(m, StepLogBatch)]
    assert batches and len(batches) < 400  # thousands of lines, a few hundred messages
    assert not any(isinstance(m, StepLogBatch) for m in single)

    def flat(seen: list[object]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for m in seen:
            for one in m.logs if isinstance(m, StepLogBatch) else (m,):
                if isinstance(one, StepLog):
                    out.append(("log", one.step, one.stream, one.text))
                elif isinstance(one, StepFinished):
                    out.append(("finished", one.step))
        return out

    assert flat(batched) == flat(single)
    assert len([m for m in flat(single) if m[0] == "log"]) == 4000
