"""A wrong setting inside a pipeline file reads as a setting to fix in the workbench, not as a
pipeline that could not be loaded."""

from __future__ import annotations

import pytest

from flowyml_tui.runner.protocol import LoadFailed
from flowyml_tui.tui.problems import explain_load_failure

pytestmark = pytest.mark.timeout(60)


def test_a_pipeline_shared_url_that_is_not_redis_is_a_setting_error(write_pipeline, run_file):
    path = write_pipeline(
        """
        @step(outputs=["a"])
        def first():
            return 1

        pipeline = Pipeline("p", shared="http://host").add_step(first)
        """
    )
    failed = [m for m in run_file(path) if isinstance(m, LoadFailed)]
    assert len(failed) == 1
    explained = explain_load_failure(failed[0])
    assert explained.title == "A setting is wrong"
    assert "'http://host'" in explained.message and "not a Redis URL" in explained.message
    assert "Could not load" not in explained.title
