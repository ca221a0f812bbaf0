"""A run record's step lines, kept for the runs that replay that run (`run/memo.py`).

A replayed run reports the steps of the run it replays, unchanged but for the run id, which a
step line does not hold: each line is that run's, but for `started_at`, which is the replay's
start plus the step's `offset_seconds`. So the lines are encoded once, split around each
`started_at`, and each replay's record splices its start into them instead of building and
encoding every line again (most of a fully cached 1,000-step replay's cost, issue 26).

What is kept is matched exactly before it is used: the run replayed (by id), the same steps as
its start listed them (the same `StepInfo`s, by identity) and the same rates (a step line holds
its savings). Anything else builds the record in full.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()
_SPLIT = b'"started_at":null'
"""Where a line is cut: `started_at` follows only names, lists of names and a line number
(`StepRecord`'s field order), and an encoded string never holds an unescaped quote, so this is
the field itself."""
_KEY = b'"started_at":'
"""A line's start: the key alone (an encoded string never holds an unescaped quote)."""
_STARTED_AT = len(_KEY)


class ReplayLines:
    """Where a pipeline keeps the lines of its last recorded run for the runs replaying it:
    one slot, handed to each run's `RunRecorder`."""

    __slots__ = ("kept",)

    def __init__(self) -> None:
        self.kept: KeptLines | None = None


class KeptLines:
    """One recorded run's step lines, and the run-wide figures that follow from them alone."""

    def __init__(
        self,
        *,
        run_id: str,
        infos: Sequence[Any],
        rate: Any,
        step_rates: Mapping[str, Any],
        steps: list[Any],
        derived: tuple[Any, ...],
    ) -> None:
        """`steps`: the record's `StepRecord`s; `derived`: what the record computed from them
        (its totals, savings, shared hits), reused as they are."""
        self.run_id = run_id
        self.infos = infos
        self.rate = rate
        self.step_rates = dict(step_rates)
        self.steps = steps
        self.derived = derived
        self.record: bytes | bytearray | None = None
        """The kept run's own record as written, when its writer handed it over
        (`adopt_record`): the first replay cuts the lines from it instead of encoding them
        again, a third of a 10,000-step run's first replay."""
        self._cut: _Split | None = None
        """The lines cut around their starts, made by the first replay (a whole `_Split` at
        once: two runs of one pipeline in two threads may both make it)."""

    def matches(
        self, run_id: str | None, infos: Sequence[Any], rate: Any, step_rates: Mapping[str, Any]
    ) -> bool:
        return (
            run_id == self.run_id
            and infos is self.infos
            and rate == self.rate
            and step_rates == self.step_rates
        )

    def adopt_record(self, record: bytes | bytearray) -> None:
        """The kept run's record, encoded from `steps` and no longer written to by anyone:
        its lines are cut from it, by view, not copied (`_cut_record` checks they match)."""
        self.record = record

    def steps_json(self, run_start: float) -> list[bytes | memoryview]:
        """The record's `steps` array as pieces to write one after another (`os.writev`: no
        copy of a 10,000-step record's 8 MB is made), each step placed at `run_start` plus its
        offset, as the record places a step that only finished."""
        split = self._cut
        if split is None:
            found = _cut_record(self.steps, self.record) if self.record is not None else None
            split = self._cut = found if found is not None else _split(self.steps)
            self.record = None  # what is kept of it now is the pieces' views
        pieces, offsets = split.pieces, split.offsets
        if not offsets:
            return pieces
        if split.uniform:
            starts: Any = itertools.repeat(_ENCODER.encode(run_start + offsets[0]), len(offsets))
        else:
            starts = [_ENCODER.encode(run_start + offset) for offset in offsets]
        # one piece more than starts: the array's end, after the last start
        spliced = list(itertools.chain.from_iterable(zip(pieces, starts, strict=False)))
        spliced.append(pieces[-1])
        return spliced


class _Split(msgspec.Struct, frozen=True, gc=False):
    pieces: list[bytes | memoryview]
    """The steps array cut before each start: one piece more than there are steps."""
    offsets: list[float]
    uniform: bool
    """Every step at the same offset (every hit took no time): one start for them all."""


def _split(steps: list[Any]) -> _Split:
    """Each line encoded once with no start, cut where its start goes."""
    pieces: list[bytes] = []
    offsets: list[float] = []
    carried = b"["
    replace = msgspec.structs.replace
    for index, step in enumerate(steps):
        line = _ENCODER.encode(replace(step, started_at=None))
        cut = line.index(_SPLIT)
        pieces.append(carried + (b"," if index else b"") + line[: cut + _STARTED_AT])
        carried = line[cut + len(_SPLIT) :]
        offsets.append(step.offset_seconds or 0.0)
    pieces.append(carried + b"]")
    return _Split(pieces, offsets, len(set(offsets)) <= 1)


_STEPS_ARRAY = b',"steps":['
"""Where a record's step lines begin: only `totals` comes before, whose `steps` is a count."""


def _cut_record(steps: list[Any], record: bytes | bytearray) -> _Split | None:
    """`_split` from the record these lines were written in, by views into it: no line is
    encoded again. A line's start is the first `"started_at":` in it, a number or null with
    no comma in it, so the line's next field begins at the first comma after it. The key
    found once more inside a line (an output named so) puts every later cut one key early,
    and then the last cut is not followed by the last line's tail (encoded alone) and the
    array's end. None when anything does not match: the caller encodes the lines."""
    begin = record.find(_STEPS_ARRAY)
    if begin < 0 or not steps:
        return None
    at = begin + len(_STEPS_ARRAY) - 1
    view = memoryview(record)
    pieces: list[bytes | memoryview] = []
    offsets: list[float] = []
    find = record.index
    try:
        for step in steps:
            value = find(_KEY, at) + len(_KEY)
            pieces.append(view[at:value])
            at = find(b",", value)
            offsets.append(step.offset_seconds or 0.0)
        last = _ENCODER.encode(steps[-1])
        tail = last[last.index(b",", last.index(_KEY) + len(_KEY)) :] + b"]"
    except (ValueError, UnicodeEncodeError):
        return None
    end = at + len(tail)
    if view[at:end] != tail or record.find(_KEY, at, end) >= 0:
        return None
    pieces.append(view[at:end])
    return _Split(pieces, offsets, len(set(offsets)) <= 1)
