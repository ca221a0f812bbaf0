"""The `--jobs` driver reads each worker's pipe itself (`process.Inbox`), as many messages a
read as have arrived: every message must come out whole and in order, whatever the reads cut."""

from __future__ import annotations

import multiprocessing
import os
import struct
import threading

import pytest

from flowyml_tui import step
from flowyml_tui.engine.run.process import Inbox, ProcessRunner
from flowyml_tui.engine.run.runner import StepTask


def test_messages_come_out_whole_and_in_order_however_the_reads_cut_them():
    ours, theirs = multiprocessing.Pipe(duplex=True)
    inbox, got = Inbox(), []
    sent = [b"L" + bytes([i % 256]) * i for i in range(0, 3000, 7)] + [b"O" + b"x" * 300_000]

    def send() -> None:  # from another thread: the pipe holds less than all of it
        for message in sent:  # a big one among them: several reads make it
            theirs.send_bytes(message)
        theirs.close()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        while len(got) < len(sent):
            got += inbox.read(ours.fileno())
        assert got == sent
        with pytest.raises(EOFError):
            inbox.read(ours.fileno())
    finally:
        sender.join(60)
        ours.close()


def test_a_message_over_2_gib_is_framed_by_its_8_byte_length():
    """`Connection.send_bytes` writes -1 and then an 8-byte length for a message over 2 GiB;
    the frame is written by hand here, the same bytes without the 2 GiB."""
    read, write = os.pipe()
    inbox = Inbox()
    try:
        os.write(write, struct.pack("!i", -1) + struct.pack("!Q", 5) + b"hello")
        os.write(write, struct.pack("!i", 2) + b"ok")
        assert inbox.read(read) == [b"hello", b"ok"]
    finally:
        os.close(read)
        os.close(write)


def test_a_pipe_that_closes_mid_message_is_a_lost_worker_not_a_short_message():
    read, write = os.pipe()
    inbox = Inbox()
    try:
        os.write(write, struct.pack("!i", 100) + b"only part")
        os.close(write)
        assert inbox.read(read) == []
        with pytest.raises(EOFError):
            inbox.read(read)
    finally:
        os.close(read)


@step(outputs=["big"])
def big_value():
    return bytes(range(256)) * 40_000  # ~10 MB: many reads of the worker's pipe


def test_a_big_outcome_comes_back_whole_from_a_worker():
    with ProcessRunner(1) as runner:
        outcome = runner.submit(StepTask("big_value", big_value.func, {})).result(timeout=120)
        assert outcome.value == bytes(range(256)) * 40_000


@step(outputs=["length"])
def length_of(data: bytes) -> int:
    return len(data) + data[-1]


def test_a_big_task_reaches_its_worker_whole():
    """Tasks are written to a worker's pipe by the driver itself, framed as `recv_bytes`
    reads them: one over the pipe's room goes as its header and then itself."""
    data = bytes(range(256)) * 20_000  # ~5 MB of arguments
    with ProcessRunner(1) as runner:
        outcome = runner.submit(StepTask("length_of", length_of.func, {"data": data}))
        assert outcome.result(timeout=120).value == len(data) + 255
