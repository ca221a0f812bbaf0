"""A step's outputs as bytes for the store, the one way the driver and a Dask worker do it."""

from __future__ import annotations

import pickle
import threading

from flowyml_tui.engine.cache import serialize_outputs


def test_outputs_are_pickled_with_cloudpickle_only_where_pickle_cannot():
    blobs, formats = serialize_outputs("make", ["n", "f"], [3, lambda x: x + 1])
    assert formats == ["pickle", "cloudpickle"]
    assert pickle.loads(blobs[0]) == 3 and pickle.loads(blobs[1])(1) == 2


def test_an_output_that_cannot_be_pickled_is_named_with_its_step():
    problem = serialize_outputs("make", ["n", "lock"], [3, threading.Lock()])
    assert isinstance(problem, str)
    assert problem.startswith("output 'lock' of step make cannot be pickled (TypeError:")
    assert problem.endswith("the step ran but is not cached")
