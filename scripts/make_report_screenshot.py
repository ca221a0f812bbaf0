"""Render a real HTML run report with headless Chromium to screenshots/report-html.png.

Runs an example pipeline twice with an edit between (so the report has cache hits, a code
change with its diff and re-run steps), exports the HTML report of the second run, and has
Chromium (Debian: `apt-get install chromium`) take a screenshot of it as a browser shows it.

    PYTHONPATH=. .venv/bin/python scripts/make_report_screenshot.py [--output PATH] [--keep-html]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowyml_tui.engine.load.loader import load_pipelines  # noqa: E402
from flowyml_tui.report import export_latest  # noqa: E402

EXAMPLE = '''
"""Sales ETL: the example the report screenshot is made from."""
import time

from flowyml_tui import Pipeline, step


@step(outputs=["raw"])
def load_data(rows):
    time.sleep(0.35)
    print(f"read {rows} rows from sales.csv")
    return [{"id": i, "amount": (i * 37) % 101, "region": "nesw"[i % 4]} for i in range(rows)]


@step(inputs=["raw"], outputs=["problems"])
def validate(raw):
    time.sleep(0.15)
    return [row["id"] for row in raw if row["amount"] == 0]


@step(inputs=["raw"], outputs=["profile"])
def profile(raw):
    time.sleep(0.2)
    return {"rows": len(raw), "regions": sorted({row["region"] for row in raw})}


@step(inputs=["raw"], outputs=["clean"])
def clean_data(raw):
    time.sleep(0.25)
CLEAN_BODY


@step(inputs=["clean"], outputs=["features"])
def featurize(clean):
    time.sleep(0.3)
    for region in "nesw":
        print(f"region {region}: {sum(1 for row in clean if row['region'] == region)} rows")
    return {row["id"]: row["amount"] / 100 for row in clean}


@step(inputs=["features", "problems"], outputs=["summary"])
def summarise(features, problems):
    time.sleep(0.1)
    return {"mean": sum(features.values()) / len(features), "problems": len(problems)}


pipeline = Pipeline("sales_etl")
for each in (load_data, validate, profile, clean_data, featurize, summarise):
    pipeline.add_step(each)
'''

BEFORE = "CLEAN_BODY"
FIRST = '    return [row for row in raw if row["amount"] > 0]'
SECOND = """    smallest = 10  # sales below this are test orders
    return [row for row in raw if row["amount"] > smallest]"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("no Chromium found: install it (Debian: apt-get install -y chromium)")


def make_report(folder: Path) -> Path:
    """Two real runs with an edit of clean_data between them; the second run's HTML report."""
    source = folder / "sales_etl.py"
    for value in (FIRST, SECOND):
        source.write_text(EXAMPLE.replace(BEFORE, value))
        (pipeline,) = load_pipelines(source).values()
        pipeline.cache_dir = folder / "cache"
        pipeline.run(context={"rows": 400})
    return export_latest(folder / "cache", "html", folder / "report.html")


def screenshot(page: Path, output: Path, size: str = "1200,1600") -> None:
    with tempfile.TemporaryDirectory() as profile_dir:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile_dir}",
            f"--screenshot={output}",
            f"--window-size={size}",
            page.as_uri(),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not output.exists():
        raise SystemExit(f"Chromium did not write {output}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "screenshots" / "report-html.png")
    parser.add_argument("--keep-html", type=Path, help="also copy the HTML report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        page = make_report(Path(tmp))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        screenshot(page, args.output.absolute())
        if args.keep_html:
            shutil.copy(page, args.keep_html)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
