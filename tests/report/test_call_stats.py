"""Reports and the record say what a step's call caches did: hits, misses and time saved."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema

from flowyml_tui.engine.history.records import SCHEMA_PATH, load_run
from flowyml_tui.engine.load.loader import load_pipelines
from flowyml_tui.report import render_html, render_markdown

from .test_report import Page

PIPELINE = """
import time
from flowyml_tui import CachePrimitive, Pipeline, step

def slow_upper(text, context):
    time.sleep(0.02)
    return text.upper()

shout = CachePrimitive(slow_upper, name="shout<b>")

@step(outputs=["words"], cache=False)
def words():
    return [shout.call(w) for w in ["a", "b", "a"]]

pipeline = Pipeline("reported")
pipeline.add_step(words)
"""


def record_of_two_runs(tmp_path: Path) -> dict:
    path = tmp_path / "reported.py"
    path.write_text(textwrap.dedent(PIPELINE))
    (pipeline,) = load_pipelines(path).values()
    pipeline.cache_dir = tmp_path / "cache"
    pipeline.run()
    pipeline.run()  # all three calls hit what the first run stored
    return load_run(tmp_path / "cache", "latest")


def test_the_record_keeps_the_calls_and_matches_its_schema(tmp_path: Path) -> None:
    record = record_of_two_runs(tmp_path)
    [call] = record["steps"][0]["calls"]
    assert (call["name"], call["hits"], call["misses"]) == ("shout<b>", 3, 0)
    assert call["saved_seconds"] > 0
    jsonschema.validate(record, json.loads(SCHEMA_PATH.read_text()))


def test_markdown_and_html_show_the_calls_of_a_step(tmp_path: Path) -> None:
    record = record_of_two_runs(tmp_path)
    markdown = render_markdown(record)
    # the step table's row (the savings table has a row for it too)
    row, _ = [line for line in markdown.splitlines() if line.startswith("| `words`")]
    assert "calls 3 hit / 0 miss · saved" in row

    page = Page(render_html(record))
    assert "calls 3 hit / 0 miss · saved" in page.content
    assert "shout<b>" in page.content and not page.all("b")  # the name is escaped
