"""A spare worker for a file using the real flowyml has imported flowyml before the save."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .test_real_flowyml import UNCHANGED

pytestmark = [pytest.mark.usefixtures("real_flowyml"), pytest.mark.timeout(90)]

FLOWYML_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| flowyml$")
"""`python -X importtime` writes this line once `import flowyml` has finished."""


def test_the_spare_imports_flowyml_while_it_waits_for_the_go(write_file, tmp_path: Path):
    path = write_file("training_pipeline.py", UNCHANGED)
    lifeline_r, lifeline_w = os.pipe()
    events_r, events_w = os.pipe()
    argv = [
        *(sys.executable, "-X", "importtime", "-m", "flowyml_tui.runner.worker", str(path)),
        *("--cache-dir", str(tmp_path / "cache"), "--events-fd", str(events_w)),
        *("--lifeline-fd", str(lifeline_r), "--wait-for-go"),
    ]
    worker = subprocess.Popen(
        argv,
        pass_fds=(events_w, lifeline_r),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    os.close(events_w)
    os.close(lifeline_r)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(ln.rstrip()) for ln in worker.stderr], daemon=True
    ).start()
    try:
        while not FLOWYML_IMPORTED.match(lines.get(timeout=60)):
            pass  # raises queue.Empty if flowyml is never imported before the go
        os.write(lifeline_w, b"g")
        with os.fdopen(events_r) as events:
            sent = events.read()
        assert worker.wait(timeout=60) == 0
        assert '"event":"run_finished"' in sent.replace(" ", "")
    finally:
        os.close(lifeline_w)
        worker.kill()
        worker.wait()
