"""Quickstart: four steps, two of them slow. Run it, then edit a step and save.

    flowyml-tui pipelines/quickstart.py        # the workbench: re-runs on every save
    flowyml-tui run pipelines/quickstart.py    # once, headless

The second run comes back from the cache at once. Change `clean`'s threshold and only `clean`
and what depends on it re-run; reformat the file or edit a comment and nothing does.
"""

import statistics
import time

from flowyml_tui import Pipeline, step

THRESHOLD = 10


@step(outputs=["readings"])
def load(n: int = 400):
    """Pretend to read a sensor export: slow, so the cache is worth having."""
    time.sleep(1.0)
    return [(i * 37) % 101 / 3 for i in range(n)]


def _in_range(value: float) -> bool:
    return value >= THRESHOLD


@step(inputs=["readings"], outputs=["clean"])
def clean(readings):
    kept = [r for r in readings if _in_range(r)]
    print(f"kept {len(kept)} of {len(readings)} readings")
    return kept


@step(inputs=["clean"], outputs=["stats"])
def summarize(clean):
    time.sleep(0.5)
    return {
        "count": len(clean),
        "mean": round(statistics.fmean(clean), 3),
        "stdev": round(statistics.stdev(clean), 3),
    }


@step(inputs=["stats"], outputs=["report"], cache=False)
def report(stats):
    """Side effect: always runs (cache=False)."""
    line = f"{stats['count']} readings, mean {stats['mean']} ± {stats['stdev']}"
    print(line)
    return line


pipeline = Pipeline("quickstart", cache_dir=".flowyml/cache")
pipeline.add_step(load).add_step(clean).add_step(summarize).add_step(report)
