"""ETL with mixed cache strategies (flowyml's "Data Pipeline with Mixed Caching" example).

- load_data   code_hash (default): re-runs when its code, `file_path` or the file's bytes change
- clean_data  input_hash, ttl 1h: re-runs only when the loaded rows change (or after an hour)
- upload      cache=False: a side effect, always runs

Edit `data/sales.csv` and save: load_data re-runs ("file changed: data/sales.csv") and the
Diff pane shows the rows you changed; nothing to invalidate by hand.
"""

import csv
import sqlite3
import tempfile
from pathlib import Path

from flowyml_tui import Pipeline, step

DATA = Path(__file__).parent / "data" / "sales.csv"


@step(outputs=["raw"])
def load_data(file_path: str):
    with open(file_path, newline="") as handle:
        return list(csv.DictReader(handle))


@step(inputs=["raw"], outputs=["clean"], cache="input_hash", ttl=3600)
def clean_data(raw):
    rows = []
    for row in raw:
        if not row["amount"]:
            continue
        rows.append({"region": row["region"].strip().title(), "amount": float(row["amount"])})
    print(f"dropped {len(raw) - len(rows)} incomplete rows")
    return rows


@step(inputs=["clean"], outputs=["totals"])
def aggregate(clean):
    totals: dict[str, float] = {}
    for row in clean:
        totals[row["region"]] = totals.get(row["region"], 0.0) + row["amount"]
    return dict(sorted(totals.items()))


@step(inputs=["totals"], outputs=["uploaded"], cache=False)
def upload(totals):
    """Writes to a SQLite file in the temp dir: a side effect, so never cached."""
    db = Path(tempfile.gettempdir()) / "flowyml-etl-example.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS totals (region TEXT PRIMARY KEY, amount REAL)")
        conn.executemany("INSERT OR REPLACE INTO totals VALUES (?, ?)", totals.items())
    return {"uploaded": len(totals), "database": str(db)}


pipeline = Pipeline("etl", enable_cache=True, context={"file_path": str(DATA)})
pipeline.add_step(load_data).add_step(clean_data).add_step(aggregate).add_step(upload)
