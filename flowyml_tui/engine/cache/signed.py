"""One signed record format for everything the shared tier writes: steps and calls alike.

Others can write to a shared Redis, so every record there is signed with the team secret and
bound to the Redis key it is stored under and to what it is (an entry's header, the source kept
for diffs, a note, a call's value):

    "FSR1" [4] | sha256(payload) [32] | hmac [32] | payload
    hmac = HMAC-SHA256(secret, "flowyml-signed-v1" | parts(key, kind) | sha256(payload))

A record copied under another key, or read as another kind, fails its HMAC: swapping two
entries' records is refused like a forged one. The payload's SHA-256 is checked after the HMAC,
before the caller does anything with it (unpickling included).

Key names are built from `parts`: each part length-prefixed (``<len>:<part>``), so no two
lists of parts give the same name ("pricing" + "eu:widget" is not "pricing:eu" + "widget").
"""

from __future__ import annotations

import hashlib
import hmac
import struct

MAGIC = b"FSR1"
_HEAD = struct.Struct("<4s32s32s")
HEADER_SIZE = _HEAD.size
"""Bytes before a record's payload."""
_DOMAIN = b"flowyml-signed-v1\0"

ENTRY = "entry"
SOURCE = "source"
NOTE = "note"
CALL = "call"


class Refused(Exception):
    """A record that does not verify: unsigned, another secret, another key or kind, or a
    payload that fails its SHA-256. Read as a miss, never unpickled."""


def parts(*texts: str) -> str:
    """``<len>:<text>`` for each text, concatenated: an unambiguous key name."""
    return "".join([f"{len(text)}:{text}" for text in texts])


def split_parts(name: str) -> list[str]:
    """The texts `parts` joined (ValueError if `name` is not made of parts)."""
    found, at = [], 0
    while at < len(name):
        colon = name.index(":", at)
        size = int(name[at:colon])
        found.append(name[colon + 1 : colon + 1 + size])
        at = colon + 1 + size
    if at != len(name):
        raise ValueError(f"{name!r} is not a list of length-prefixed parts")
    return found


def single_part(name: str) -> str | None:
    """The one text `name` is made of, or None for a name we did not make (one planted)."""
    try:
        found = split_parts(name)
    except ValueError:
        return None
    return found[0] if len(found) == 1 else None


def glob_escape(text: str) -> str:
    """`text` matched literally by SCAN's MATCH (a name may hold `*`, `?`, `[` or `\\`)."""
    for special in ("\\", "*", "?", "[", "]"):
        text = text.replace(special, "\\" + special)
    return text


class Signer:
    """Signs and verifies records with one team secret."""

    def __init__(self, secret: bytes) -> None:
        self._keyed = hmac.new(secret, _DOMAIN, hashlib.sha256)
        """The keyed state after the domain tag, copied per record: OpenSSL's one-shot
        `hmac.digest` costs more instructions (its key setup) than this copy."""

    def _mac(self, key: str, kind: str, digest: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(f"{len(key)}:{key}{len(kind)}:{kind}".encode() + digest)  # parts(key, kind)
        return mac.digest()

    def sign(self, key: str, kind: str, payload: bytes) -> bytes:
        """The record to store under `key`: header, then `payload` as it is."""
        digest = hashlib.sha256(payload).digest()
        return _HEAD.pack(MAGIC, digest, self._mac(key, kind, digest)) + payload

    def verify(self, key: str, kind: str, record: bytes) -> memoryview:
        """The payload of a record read from `key`, once it is proven to be a `kind` record
        this team wrote under this very key; else `Refused`, saying why."""
        if len(record) < _HEAD.size:
            raise Refused("unsigned or signed with another secret (not a signed record)")
        magic, digest, mac = _HEAD.unpack_from(record)
        if magic != MAGIC:
            raise Refused("unsigned or signed with another secret (not a signed record)")
        if not hmac.compare_digest(mac, self._mac(key, kind, digest)):
            raise Refused(
                "unsigned or signed with another secret (or a record moved from another key)"
            )
        payload = memoryview(record)[_HEAD.size :]
        if not hmac.compare_digest(hashlib.sha256(payload).digest(), digest):
            raise Refused("fails its SHA-256")
        return payload
