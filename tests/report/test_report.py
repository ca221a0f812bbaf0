"""Reports of real runs: JSON for tools, Markdown for a PR comment, HTML for a browser."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flowyml_tui.engine.history.records import SCHEMA_PATH, load_run
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.report import (
    ReportError,
    export_latest,
    render_comparison,
    render_html,
    render_json,
    render_markdown,
)

pytestmark = pytest.mark.timeout(30)

XSS = "<script>alert(1)</script>"

PIPELINE = """
from flowyml_tui import Pipeline, step


@step(outputs=["raw"])
def load_data(n):
    return list(range(n))


@step(inputs=["raw"], outputs=["clean"])
def clean_data(raw):
    return [x * FACTOR for x in raw]


@step(inputs=["clean"], outputs=["total"], name=NAME)
def summarise(clean):
    print(MESSAGE)
    if FAIL:
        raise RuntimeError(MESSAGE)
    return sum(clean)


pipeline = Pipeline("report_example")
pipeline.add_step(load_data).add_step(clean_data).add_step(summarise)
"""


def run_version(
    tmp_path: Path,
    factor: str,
    *,
    name: str = "summarise",
    message: str = "done",
    fail: bool = False,
) -> dict[str, Any]:
    """Write the example with these values, import it fresh, run it, return its record."""
    source = (
        PIPELINE.replace("FACTOR", factor)
        .replace("NAME", repr(name))
        .replace("MESSAGE", repr(message))
        .replace("FAIL", repr(fail))
    )
    path = tmp_path / "report_example.py"
    path.write_text(source)
    (pipeline,) = load_pipelines(path).values()
    pipeline.cache_dir = tmp_path / "cache"
    result = pipeline.run(context={"n": 4})
    record = load_run(tmp_path / "cache", "latest")
    assert record["run_id"] == result.run_id
    return record


@pytest.fixture
def edited(tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two runs with an edit of clean_data between them."""
    return run_version(tmp_path, "2"), run_version(tmp_path, "3")


class Page(HTMLParser):
    """Tags, attributes and visible text of a page, as a browser's parser sees them."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def content(self) -> str:
        return "".join(self.text)


def test_json_is_the_record_and_matches_its_schema(edited: tuple[dict, dict]) -> None:
    _, record = edited
    text = render_json(record)

    assert json.loads(text) == record
    jsonschema.validate(json.loads(text), json.loads(SCHEMA_PATH.read_text()))


def test_markdown_has_a_summary_a_step_table_and_the_diff_in_a_fence(
    edited: tuple[dict, dict],
) -> None:
    _, record = edited
    text = render_markdown(record)

    summary = text.splitlines()[0]
    assert "report_example" in summary and "2 executed, 1 cached, 0 failed" in summary
    assert "| Step | Status | Duration | Reason |" in text
    assert "| `clean_data` | ▶️ executed |" in text
    assert "| `load_data` | ⚡ cached |" in text
    fence = text.index("```diff\n")
    block = text[fence : text.index("\n```", fence + 1)]
    assert "-    return [x * 2 for x in raw]" in block
    assert "+    return [x * 3 for x in raw]" in block


def test_markdown_keeps_pipes_and_newlines_inside_their_table_cell(
    edited: tuple[dict, dict],
) -> None:
    _, record = edited
    record["steps"][0]["reason"] = "a | b\nc"
    row = next(line for line in render_markdown(record).splitlines() if "`load_data`" in line)

    assert row.endswith("| a \\| b<br>c |")
    assert len(re.split(r"(?<!\\)\|", row)) == 4 + 2  # four cells between the outer pipes


def test_markdown_shows_the_tail_of_a_failing_steps_traceback(tmp_path: Path) -> None:
    record = run_version(tmp_path, "2", message="disk full", fail=True)
    text = render_markdown(record)

    assert "#### Failures" in text
    failures = text[text.index("#### Failures") :]
    assert "**`summarise`** — RuntimeError: disk full" in failures
    assert "Traceback (most recent call last)" in failures
    assert "| `summarise` | ❌ failed |" in text


def test_html_is_one_self_contained_page_with_cards_chart_table_and_diff(
    edited: tuple[dict, dict],
) -> None:
    _, record = edited
    page = Page(render_html(record))

    assert not page.all("script")
    assert not page.all("link")
    assert all(
        not (value or "").startswith(("http:", "https:", "//"))
        for _, attrs in page.tags
        for key, value in attrs.items()
        if key in {"src", "href"}
    )
    assert page.all("style")
    bars = [a for a in page.all("rect") if a.get("rx")]
    # the timeline, and the savings chart of the steps the cache saved (issue 28)
    assert [svg.get("aria-label") for svg in page.all("svg")] == [
        "Timeline of step durations",
        "Savings per step",
    ]
    assert len(bars) == 3
    assert {a["fill"] for a in bars} == {"#2563eb", "#16a34a"}  # executed and cached
    assert len(page.all("tr")) == (1 + 3) + (1 + 3 + 1)  # steps; savings with its total
    content = page.content
    assert "steps executed" in content and "cache hit rate" in content
    assert "return [x * 2 for x in raw]" in content
    assert "return [x * 3 for x in raw]" in content
    assert "code changed" in content
    assert len(page.all("details")) == 3


def test_html_diff_and_traceback_are_syntax_highlighted(tmp_path: Path) -> None:
    run_version(tmp_path, "2")
    record = run_version(tmp_path, "3", fail=True, message="boom")
    page = Page(render_html(record))

    highlighted = [a for _, a in page.tags if a.get("class") == "hl"]
    assert len(highlighted) == 3  # diffs of clean_data and summarise, the traceback
    classes = {a.get("class") for _, a in page.tags}
    assert {"gd", "gi"} <= classes  # deleted and inserted diff lines
    assert "RuntimeError: boom" in page.content


def test_html_shows_user_markup_as_text_and_runs_none_of_it(tmp_path: Path) -> None:
    run_version(tmp_path, "2", name=XSS)
    record = run_version(tmp_path, f"3 if {XSS!r} else 3", name=XSS, message=XSS, fail=True)
    source = render_html(record)
    page = Page(source)

    assert not page.all("script")
    assert XSS in page.content
    assert page.content.count(XSS) >= 5  # step name, diff, log, traceback, table...
    assert "<script>" not in source


def test_html_logs_are_collapsible_and_the_page_prints(tmp_path: Path) -> None:
    record = run_version(tmp_path, "2", message="hello from the step")
    source = render_html(record)
    page = Page(source)

    assert "@media print" in source
    assert len(page.all("summary")) == len(page.all("details")) == 3
    assert len(page.all("pre")) >= 1
    assert "hello from the step" in page.content


def test_a_comparison_shows_status_changes_duration_deltas_and_code_diffs(
    edited: tuple[dict, dict],
) -> None:
    first, second = edited
    text = render_comparison(first, second, "md")

    assert f"`{first['run_id']}` → `{second['run_id']}`" in text
    assert "| `load_data` | **executed → cached** |" in text
    assert "| `clean_data` | executed |" in text
    assert "#### Status changes" in text
    assert "```diff" in text and "+    return [x * 3 for x in raw]" in text
    data = json.loads(render_comparison(first, second, "json"))
    rows = {row["name"]: row for row in data["steps"]}
    assert rows["clean_data"]["code_changed"] is True
    assert rows["load_data"]["code_changed"] is False
    assert rows["load_data"]["status_changed"] is True
    assert rows["load_data"]["duration_delta"] == pytest.approx(
        second["steps"][0]["duration_seconds"] - first["steps"][0]["duration_seconds"]
    )
    page = Page(render_comparison(first, second, "html"))
    assert not page.all("script")
    assert "+    return [x * 3 for x in raw]" in page.content


def test_export_latest_writes_the_newest_run_next_to_the_user(
    edited: tuple[dict, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, second = edited
    monkeypatch.chdir(tmp_path)

    path = export_latest(tmp_path / "cache")

    assert path == tmp_path / f"flowyml-report-{second['run_id']}.html"
    assert Page(path.read_text()).all("svg")
    md = export_latest(tmp_path / "cache", "md", tmp_path / "out" / "run.md")
    assert md.read_text().startswith("### ✅ `report_example` succeeded")


def test_an_unknown_format_says_which_there_are(edited: tuple[dict, dict], tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="unknown report format 'pdf': use html, md or json"):
        export_latest(tmp_path / "cache", "pdf")
