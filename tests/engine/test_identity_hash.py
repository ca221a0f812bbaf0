"""A code identity's hash is written out directly; it must stay the fingerprint it always was,
or every cached step in every user's cache would miss once after an upgrade."""

from __future__ import annotations

import pytest

from flowyml_tui.engine.hashing import fingerprint
from flowyml_tui.engine.hashing.identity import identity_hash

CASES = [
    ("ast", "", [], []),
    ("source", "d" * 32, [("\x00root", "d" * 32)], [("numpy", "2.1.0")]),
    ("ast", "r", [(f"pipe.py:f{i}", f"{i:032x}") for i in range(12)], []),
    ("ast", "é€😀", [("mod:naïve", "x" * 5000), ("\udcff", "")], [("a", "1"), ("b", "2")]),
]


@pytest.mark.parametrize(("mode", "root", "parts", "packages"), CASES)
def test_the_direct_encoding_is_the_fingerprint_of_the_same_tuple(mode, root, parts, packages):
    expected = fingerprint((mode, root, parts, packages))
    assert identity_hash(mode, root, parts, packages) == expected
