"""Turning outputs into bytes and guarding those bytes: shared by every store."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import msgspec
import xxhash


class NotCacheable(msgspec.Struct, frozen=True):
    """An output that cannot be pickled: the step ran but gets no entry, and every run says so
    (its Why would otherwise read "new step" each time, as no entry ever exists)."""

    warning: str
    """The whole story, for the run's warnings."""
    type_name: str
    """The type of the value that cannot be pickled, for the step's reason."""

    @property
    def reason(self) -> str:
        return f"output not cacheable: {self.type_name}"

    def explain(self, reason: str, new_step: bool) -> str:
        """The step's reason once this is known: replaces "new step", else is added to it."""
        return self.reason if new_step or not reason else f"{reason}; {self.reason}"


def checksum(data: bytes) -> str:
    """xxh3-64 of a value's bytes: guards the private local store against corruption (a
    tier others can write needs a cryptographic digest instead)."""
    return xxhash.xxh3_64_hexdigest(data)


def serialize(value: Any) -> tuple[bytes, str]:
    """Pickle a value, falling back to cloudpickle for lambdas, local classes and the like."""
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), "pickle"
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), "cloudpickle"


def serialize_outputs(
    step: str, outputs: Sequence[str], values: Sequence[Any]
) -> tuple[list[bytes], list[str]] | NotCacheable:
    """(bytes, format) of each of a step's outputs, or which one cannot be pickled: where the
    step ran (the driver, a Dask worker) the step then stays uncached."""
    blobs, formats = [], []
    for name, value in zip(outputs, values, strict=True):
        try:
            blob, fmt = serialize(value)
        except Exception as exc:
            return NotCacheable(
                warning=(
                    f"output {name!r} of step {step} cannot be pickled "
                    f"({type(exc).__name__}: {exc}); the step ran but is not cached"
                ),
                type_name=type(value).__qualname__,
            )
        blobs.append(blob)
        formats.append(fmt)
    return blobs, formats


def unpickle_verified(blob: bytes, key: str, index: int) -> Any:
    """Output `index` of entry `key` from bytes its tier has already verified (checksum,
    signed digest): a value that still does not unpickle is a corrupt entry, not a crash."""
    from .protocols import CorruptEntry

    try:
        return pickle.loads(blob)
    except Exception as exc:
        raise CorruptEntry(f"output {index} of entry {key} cannot be unpickled: {exc}") from exc
