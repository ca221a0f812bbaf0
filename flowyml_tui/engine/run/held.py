"""Outputs that stay where their step ran: what the driver needs of them, made on the worker.

A runner that keeps values on its workers (`holds_values = True`, the Dask runner) gets a
`HoldSpec` in each task. The worker splits the returned value into the step's outputs,
fingerprints them (issue 7: an entry's key matches what its consumers receive, so the
fingerprint is taken where the value is), pickles them for the store when the driver has one,
and checks which inputs the step changed in place. Only this `HeldOutputs` summary travels
back; the values stay on the worker until a consumer (or the driver, asked) needs one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

from ..cache.values import NotCacheable
from ..errors import StepOutputError


class HoldSpec(msgspec.Struct, frozen=True):
    """What the worker needs to summarise a step's outputs."""

    outputs: tuple[str, ...]
    want_blobs: bool
    """The driver writes an entry: bring each output's pickled bytes back."""
    input_fps: Mapping[str, str]
    """Parameter -> fingerprint the step was keyed by, for its mutable upstream inputs."""


class Handle(Protocol):
    """The runner's hold on a step's outputs, in the driver."""

    def ref(self, index: int) -> Any:
        """A stand-in for output `index` that this runner accepts as a task's argument."""
        ...

    def fetch(self, index: int) -> Any:
        """Output `index` itself, brought to the driver (only when the driver needs it)."""
        ...


class HeldOutputs(msgspec.Struct, frozen=True):
    """A step's outputs, described where they were made."""

    fingerprints: tuple[str, ...]
    """One per output; "" where the value cannot be fingerprinted (why: `problems`)."""
    problems: tuple[str, ...]
    previews: tuple[str, ...]
    blobs: tuple[bytes, ...] | None = None
    """The outputs pickled for the store, when asked for and every output could be pickled."""
    formats: tuple[str, ...] = ()
    checksums: tuple[str, ...] = ()
    blob_problem: NotCacheable | None = None
    """Why there are no blobs though they were asked for (an output cannot be pickled)."""
    changed: tuple[str, ...] = ()
    """Parameters whose value the step changed in place."""
    values: tuple[Any, ...] | None = None
    """The values themselves when they are small (under `SMALL_BYTES` together): sending them
    costs less than a round trip to fetch them, and leaves Dask free to place consumers."""
    handle: Any = None
    """Set by the runner in the driver: a `Handle` on the values."""


SMALL_BYTES = 1 << 16


def split_outputs(step: str, outputs: tuple[str, ...], returned: Any) -> tuple[Any, ...]:
    """The returned value as one value per declared output, or a `StepOutputError`."""
    if len(outputs) == 1:
        return (returned,)
    if isinstance(returned, Mapping) and not isinstance(returned, (tuple, list)):
        missing = [name for name in outputs if name not in returned]
        if missing:
            raise StepOutputError(
                f"step {step!r} declares outputs {list(outputs)} and returned a "
                f"dict without {missing}; return a dict with a key per output (it has "
                f"{list(returned)}) or a tuple with one item per output"
            )
        return tuple(returned[name] for name in outputs)
    if not isinstance(returned, (tuple, list)) or len(returned) != len(outputs):
        got = (
            f"a {type(returned).__name__} of {len(returned)}"
            if isinstance(returned, (tuple, list))
            else f"a {type(returned).__name__}"
        )
        raise StepOutputError(
            f"step {step!r} declares {len(outputs)} outputs {list(outputs)} "
            f"but returned {got}; return a tuple with one item per output"
        )
    return tuple(returned)


def hold(
    step: str, spec: HoldSpec, returned: Any, kwargs: Mapping[str, Any]
) -> tuple[tuple[Any, ...], HeldOutputs]:
    """On the worker: the step's output values and their summary for the driver."""
    from ..cache import checksum, serialize_outputs
    from ..describe.preview import preview
    from ..hashing import Unfingerprintable, fingerprint
    from .mutation import is_immutable

    values = split_outputs(step, spec.outputs, returned)
    fps, problems = [], []
    for value in values:
        try:
            fps.append(fingerprint(value))
            problems.append("")
        except Unfingerprintable as exc:
            fps.append("")
            problems.append(str(exc))
    blobs: list[bytes] | None = None
    formats: list[str] = []
    blob_problem = None
    if spec.want_blobs:
        pickled = serialize_outputs(step, spec.outputs, values)
        if isinstance(pickled, NotCacheable):
            blob_problem = pickled
        else:
            blobs, formats = pickled
    changed = []
    for param, before in spec.input_fps.items():
        value = kwargs.get(param)
        if is_immutable(value):
            continue
        try:
            after = fingerprint(value)
        except Unfingerprintable:
            after = ""
        if after != before:
            changed.append(param)
    small = sum(len(b) for b in blobs) < SMALL_BYTES if blobs is not None else _small(values)
    return values, HeldOutputs(
        fingerprints=tuple(fps),
        problems=tuple(problems),
        previews=tuple(preview(v) for v in values),
        blobs=None if blobs is None else tuple(blobs),
        formats=tuple(formats),
        checksums=() if blobs is None else tuple(checksum(b) for b in blobs),
        blob_problem=blob_problem,
        changed=tuple(changed),
        values=values if small else None,
    )


def _small(values: tuple[Any, ...]) -> bool:
    try:
        from dask.sizeof import sizeof
    except ImportError:  # a runner without Dask: keep them where they are
        return False
    return int(sizeof(values)) < SMALL_BYTES
