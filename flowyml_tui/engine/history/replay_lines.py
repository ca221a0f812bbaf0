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
_STARTED_AT = len(b'"started_at":')


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

    def steps_json(self, run_start: float) -> list[bytes]:
        """The record's `steps` array as pieces to write one after another (`os.writev`: no
        copy of a 10,000-step record's 8 MB is made), each step placed at `run_start` plus its
        offset, as the record places a step that only finished."""
        split = self._cut
        if split is None:
            split = self._cut = _split(self.steps)
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
    pieces: list[bytes]
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
