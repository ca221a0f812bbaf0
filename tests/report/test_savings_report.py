"""The savings ledger in the Markdown and HTML reports, from real runs (issue 28)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from flowyml_tui.engine.history.records import SCHEMA_PATH, load_run
from flowyml_tui.report.markdown import md_code
from tests.cli_process import run_cli

from .test_report import Page

pytestmark = pytest.mark.timeout(120)

PIPELINE = """
import time
from pathlib import Path
from flowyml_tui import CachePrimitive, Pipeline, step

llm = CachePrimitive(
    lambda prompt, context: {"text": prompt, "cost": 0.5},
    name="llm",
    cost_fn=lambda result: result["cost"],
)

@step(outputs=["answers"], name=STEP_NAME)
def ask():
    return [llm.call(p)["text"] for p in PROMPTS]

@step(outputs=["total"])
def slow():
    time.sleep(0.1)
    return 1

pipeline = Pipeline("reported", cache_dir=str(Path(__file__).with_name("cache")), RATE)
pipeline.add_step(ask)
pipeline.add_step(slow)
"""

HOSTILE = "ask<img src=x onerror=alert(1)>|`"


def runs(tmp_path: Path, rate: str, count: int = 3) -> Path:
    """`count` runs: the first computes all, the second changes `ask` (calls hit), then hits."""
    home = tmp_path / "config-home"
    home.mkdir(exist_ok=True)
    path = tmp_path / "reported.py"
    for number in range(count):
        prompts = ["a", "b"] if number == 0 else ["a", "b", "c"]
        text = textwrap.dedent(PIPELINE).replace("PROMPTS", repr(prompts))
        text = text.replace("STEP_NAME", repr(HOSTILE)).replace(", RATE", rate)
        path.write_text(text)
        done = run_cli("run", path, env={"XDG_CONFIG_HOME": str(home)})
        assert done.returncode == 0, done.stderr
    return tmp_path / "cache"


def report(cache: Path, fmt: str, output: Path | None = None) -> str:
    args = ["report", "--cache-dir", cache, "--format", fmt]
    done = run_cli(*args, *(["-o", output] if output else []))
    assert done.returncode == 0, done.stderr
    return output.read_text() if output else done.stdout


def test_markdown_has_a_savings_table_with_money_when_priced(tmp_path: Path) -> None:
    cache = runs(tmp_path, ", cost_per_hour=3600, currency='EUR'")
    record = load_run(cache)
    jsonschema.validate(record, json.loads(SCHEMA_PATH.read_text()))
    text = report(cache, "md")
    lines = text.splitlines()
    start = lines.index("#### Savings")
    table = lines[start + 2 : start + 7]
    assert table[0] == "| Step | Time saved | Calls saved | Cost saved | Cost spent |"
    name = md_code(HOSTILE, table=True)  # a code span: nothing in it renders as HTML
    assert name.startswith("`` ask<img") and table[2].startswith(f"| {name} |")
    assert table[4].startswith("| **total** |") and table[4].endswith(" EUR |")
    assert "<img" not in text.replace(name, "")


def test_markdown_shows_cost_fn_money_without_a_rate(tmp_path: Path) -> None:
    cache = runs(tmp_path, "", count=2)
    text = report(cache, "md")
    # the second run's `ask` hit two calls whose cost_fn priced them: money is shown
    record = load_run(cache)
    assert record["cost_per_hour"] is None
    assert record["savings"]["cost_saved"] == pytest.approx(1.0)
    assert "Cost saved" in text


def test_html_has_a_savings_section_with_two_charts_and_escapes_names(tmp_path: Path) -> None:
    cache = runs(tmp_path, ", cost_per_hour=3600")
    page_text = report(cache, "html", tmp_path / "report.html")
    page = Page(page_text)
    assert not page.all("img")  # the step's name is text, not a tag
    assert HOSTILE in page.content
    sections = [attrs.get("id") for attrs in page.all("section")]
    assert "savings" in sections
    svgs = [attrs.get("class") for attrs in page.all("svg")]
    assert "savings-steps" in svgs and "savings-cumulative" in svgs
    assert len(page.all("circle")) == 3  # one point per run of the pipeline so far
    record = load_run(cache)
    total = record["savings"]
    assert f"{total['cost_saved']:,.2f} USD" in page.content
