"""The README names one place where the workbench's `e` writes its report: the one it uses."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_sentence_about_the_e_key_export_names_the_cache_dirs_reports_folder() -> None:
    """`tests/tui/test_keys.py` checks that `e` writes into `<cache_dir>/reports/`; each place
    the README speaks of it must say so too, and none may name another folder."""
    text = " ".join(README.read_text(encoding="utf-8").split())
    told = re.findall(r"`e`[^.|]*export[^.|]*", text)
    assert told, "the README no longer says what `e` does"
    for sentence in told:
        assert "reports/" in sentence, f"README: {sentence!r} names another place"
        assert "current directory" not in sentence, f"README: {sentence!r}"
