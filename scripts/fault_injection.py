"""The long fault-injection run: the CI suite's kills and races, with counts from the command line.

    python scripts/fault_injection.py --kills 300 --race-seconds 60 --writers 3 --meddlers 2

Prints what was done and what held (the README's "Reliability" section quotes it); exits 1
if a wrong value was loaded, an orphan survived `gc`, or a racing process failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults import harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300, help="writers to SIGKILL")
    parser.add_argument("--race-seconds", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--meddlers", type=int, default=2, help="processes clearing/pinning")
    parser.add_argument("--size", type=int, default=harness.PAYLOAD_BYTES, help="value bytes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="flowyml-faults-") as tmp:
        root = Path(tmp)
        pipeline_file = harness.write_pipeline(root, size=args.size)
        start = time.perf_counter()
        kills = harness.kill_writers(
            root / "kills", pipeline_file, args.kills, args.seed, size=args.size
        )
        print(
            f"SIGKILL: {kills.kills} writers killed at random points "
            f"({kills.dead_writer_markers} after writing), {kills.loads_checked} loaded values "
            f"checked, {len(kills.wrong_values)} wrong, {kills.orphan_bytes_after_gc} orphan "
            f"bytes after gc ({time.perf_counter() - start:.0f} s)"
        )
        ok = ok and not kills.wrong_values and kills.orphan_bytes_after_gc == 0
        start = time.perf_counter()
        race = harness.race(
            root / "race",
            pipeline_file,
            args.race_seconds,
            writers=args.writers,
            meddlers=args.meddlers,
            size=args.size,
        )
        print(
            f"race: {args.writers} writers ({race.writer_runs} runs, every value checked) "
            f"against {args.meddlers} processes doing clear/pin/unpin/clear_step/gc "
            f"({race.meddler_actions} actions): {len(race.failures)} failures "
            f"({time.perf_counter() - start:.0f} s)"
        )
        for failure in race.failures + kills.wrong_values:
            print("  " + failure)
        ok = ok and not race.failures
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
