"""A step's outputs as bytes for the store, the one way the driver and a Dask worker do it."""

from __future__ import annotations

import pickle
import threading

from flowyml_tui.engine.cache import NotCacheable, serialize_outputs


def test_outputs_are_pickled_with_cloudpickle_only_where_pickle_cannot():
    blobs, formats = serialize_outputs("make", ["n", "f"], [3, lambda x: x + 1])
    assert formats == ["pickle", "cloudpickle"]
    assert pickle.loads(blobs[0]) == 3 and pickle.loads(blobs[1])(1) == 2


def test_an_output_that_cannot_be_pickled_is_named_with_its_step():
    problem = serialize_outputs("make", ["n", "lock"], [3, threading.Lock()])
    assert isinstance(problem, NotCacheable)
    assert problem.warning.startswith("output 'lock' of step make cannot be pickled (TypeError:")
    assert problem.warning.endswith("the step ran but is not cached")
    assert problem.reason == "output not cacheable: lock"
