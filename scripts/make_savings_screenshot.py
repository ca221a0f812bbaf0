"""Render a real HTML run report's savings section with headless Chromium to
screenshots/report-savings.png.

Runs a pipeline with a priced call cache (token_cost) and a compute rate four times, its
labelling step changed once between, and screenshots the last run's report: the savings
section, with its per-step chart and the cumulative one over the runs, is in the page shown.

    PYTHONPATH=. .venv/bin/python scripts/make_savings_screenshot.py [--output PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_report_screenshot import screenshot  # noqa: E402

from flowyml_tui.engine.load.loader import load_pipelines  # noqa: E402
from flowyml_tui.report import export_latest  # noqa: E402

EXAMPLE = '''
"""Support tickets: load them, label each with an LLM (cached per prompt), count the labels."""
import time

from flowyml_tui import CachePrimitive, Pipeline, TokenPrice, step, token_cost


def ask_llm(prompt, context):
    time.sleep(0.05)
    return {"model": "gpt-4o", "text": prompt.split()[-1],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 400}}


llm = CachePrimitive(ask_llm, name="llm", cost_fn=token_cost({"gpt-4o": TokenPrice(2.5, 10.0)}))


@step(outputs=["tickets"])
def load_tickets():
    time.sleep(0.6)
    return [f"ticket {i}" for i in range(60)]


@step(inputs=["tickets"], outputs=["labels"])
def label(tickets):
    return [llm.call(f"label kind {i % KINDS}")["text"] for i, _ in enumerate(tickets)]


@step(inputs=["labels"], outputs=["counts"])
def count(labels):
    time.sleep(0.2)
    return {label: labels.count(label) for label in set(labels)}


pipeline = Pipeline("tickets", cost_per_hour=36.0, currency="USD")
for each in (load_tickets, label, count):
    pipeline.add_step(each)
'''


def make_report(folder: Path) -> Path:
    source = folder / "tickets.py"
    for kinds in (6, 6, 9, 9):
        source.write_text(EXAMPLE.replace("KINDS", str(kinds)))
        (pipeline,) = load_pipelines(source).values()
        pipeline.cache_dir = folder / "cache"
        pipeline.run()
    return export_latest(folder / "cache", "html", folder / "report.html")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "screenshots" / "report-savings.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = make_report(Path(tmp))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page, args.output.absolute(), size="1200,2000")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
