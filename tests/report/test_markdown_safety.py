"""Text from user code never renders as an image, a link or HTML in a Markdown report.

Checked with a real CommonMark parser (markdown-it-py) in its GFM-like preset with linkify on,
as a PR comment would be rendered: no `image`, `link_open` or `html_inline`/`html_block`
token may come from what a step said (our own `<br>` in table cells is the only HTML).
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

from flowyml_tui.report import render_markdown
from flowyml_tui.report.markdown import md_cell, md_text

from .test_report import run_version

HOSTILE = [
    "![x](https://evil.example/p.png)",
    "[click](javascript:alert(1))",
    "[ref]: https://evil.example/ref",
    '<img src="https://evil.example/q.png">',
    "<https://evil.example/auto>",
    "see https://evil.example/bare and www.evil.example",
    "mail admin@evil.example now",
    "![y][ref] *bold* `tick` ~~strike~~ \\[escaped\\]",
    "<script>alert(1)</script>",
]


def tokens(text: str) -> list:
    """Every token, inline children included, of `text` rendered as GFM (linkify on)."""
    parser = MarkdownIt("gfm-like", {"linkify": True})
    found = []
    for token in parser.parse(text):
        found.append(token)
        found.extend(token.children or [])
    return found


def unsafe(text: str) -> list[str]:
    return [
        f"{t.type}: {t.content or t.attrs}"
        for t in tokens(text)
        if t.type in ("image", "link_open", "html_block")
        or (t.type == "html_inline" and t.content != "<br>")
    ]


def test_hostile_text_renders_as_text_in_prose_and_in_table_cells() -> None:
    for text in HOSTILE:
        assert not unsafe(md_text(text)), text
        assert not unsafe(f"| a |\n| --- |\n| {md_cell(text)} |"), text
        assert not unsafe(f"- {md_text(text)}"), text


def test_the_escaped_text_still_reads_the_same() -> None:
    text = "![x](https://evil.example/p.png) costs *2* [ok]"
    rendered = MarkdownIt("gfm-like", {"linkify": True}).render(md_text(text))
    assert "https://evil.example/p.png" in rendered and "*2*" in rendered and "[ok]" in rendered


def test_a_report_of_a_hostile_failure_and_warning_has_no_link_or_image(tmp_path: Path) -> None:
    message = " ".join(HOSTILE)
    record = run_version(tmp_path, "2", message=message, fail=True)
    record["warnings"] = [{"step": None, "message": message}]
    record["steps"][0]["reason"] = message
    text = render_markdown(record)
    assert "Failures" in text and "evil.example/p.png" in text
    assert not unsafe(text)
