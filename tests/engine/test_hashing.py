"""Cache keys: value fingerprints and code identities, tested on real modules and processes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flowyml_tui.engine.hashing import (
    CodeIdentity,
    Encoder,
    Unfingerprintable,
    code_identity,
    fingerprint,
    register,
)
from tests.needs import need

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
_loads = itertools.count()


# -- helpers: real module files, imported fresh -------------------------------------------------


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write files into a fresh folder and import the main one under a unique module name.

    Sibling modules are imported by their plain names (as a user's pipeline would), and
    forgotten afterwards so the next version of them is imported anew.
    """
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def load_files(files: dict[str, str], main: str = "pipeline.py") -> ModuleType:
        folder = tmp_path / f"v{next(_loads)}"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(textwrap.dedent(text).lstrip())
        siblings = {name.split("/")[0].removesuffix(".py") for name in files if name != main}

        def forget() -> None:
            for name in list(sys.modules):
                if name.split(".")[0] in siblings:
                    del sys.modules[name]

        sys.path.insert(0, str(folder))
        forget()
        try:
            spec = importlib.util.spec_from_file_location(f"pipeline_{next(_loads)}", folder / main)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(folder))
            forget()
        return module

    return load_files


def ident(module: ModuleType, name: str, mode: str = "ast") -> CodeIdentity:
    return code_identity(getattr(module, name), mode=mode)


# -- fingerprints: scalars and containers -------------------------------------------------------


def test_fingerprint_is_32_lowercase_hex_chars() -> None:
    digest = fingerprint({"a": [1, 2.5, None]})
    assert len(digest) == 32
    assert digest == digest.lower()
    int(digest, 16)


def test_one_and_one_point_zero_and_true_differ() -> None:
    values = [1, 1.0, True, "1", b"1", (1,), [1], Decimal(1), 1 + 0j]
    assert len({fingerprint(v) for v in values}) == len(values)


def test_equal_values_have_equal_fingerprints() -> None:
    assert fingerprint([1, "a", (2.5, None)]) == fingerprint([1, "a", (2.5, None)])
    assert fingerprint(2**100) == fingerprint(2**100)
    assert fingerprint(2**100) != fingerprint(2**100 + 1)


def test_fractions_are_fingerprinted_by_value_in_a_process_that_imports_them_late() -> None:
    """`fractions` is registered only once imported (start-up): the value still counts."""
    script = textwrap.dedent("""
        import sys
        from flowyml_tui.engine.hashing import fingerprint
        assert "fractions" not in sys.modules, "imported at start-up again"
        from fractions import Fraction
        print(fingerprint(Fraction(1, 3)) == fingerprint(Fraction(2, 6)),
              fingerprint(Fraction(1, 3)) != fingerprint(Fraction(1, 4)),
              fingerprint(Fraction(1, 3)) != fingerprint((1, 3)))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]


def test_list_order_counts_and_list_differs_from_tuple() -> None:
    assert fingerprint([1, 2]) != fingerprint([2, 1])
    assert fingerprint([1, 2]) != fingerprint((1, 2))


def test_nesting_is_unambiguous() -> None:
    assert fingerprint([[1], 2]) != fingerprint([1, [2]])
    assert fingerprint(["ab", "c"]) != fingerprint(["a", "bc"])


def test_dict_order_does_not_count() -> None:
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    assert fingerprint({1: "x", (2, 3): "y"}) == fingerprint({(2, 3): "y", 1: "x"})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_ordereddict_order_counts() -> None:
    assert fingerprint(OrderedDict(a=1, b=2)) != fingerprint(OrderedDict(b=2, a=1))
    assert fingerprint(OrderedDict(a=1)) != fingerprint({"a": 1})


def test_sets_are_order_independent_and_differ_from_frozensets() -> None:
    forward = set(range(50)) | {"x", 2.5}
    backward = {2.5, "x", *reversed(range(50))}
    assert fingerprint(forward) == fingerprint(backward)
    assert fingerprint({1, 2}) != fingerprint(frozenset({1, 2}))


def test_string_subclasses_and_namedtuples_are_tagged_by_type() -> None:
    from collections import namedtuple

    Point = namedtuple("Point", "x y")
    assert fingerprint(Point(1, 2)) != fingerprint((1, 2))


def test_long_homogeneous_lists_are_unambiguous() -> None:
    assert fingerprint(["ab", "c"] * 8) != fingerprint(["a", "bc"] * 8)
    assert fingerprint([1.0] * 8) != fingerprint([1] * 8)
    assert fingerprint(list(range(8))) == fingerprint(list(range(8)))
    assert fingerprint([*range(7), 2**70]) != fingerprint([*range(7), 2**70 + 1])


def test_self_referencing_containers_do_not_crash() -> None:
    looped: list[Any] = [1]
    looped.append(looped)
    other: list[Any] = [1]
    other.append(other)
    assert fingerprint(looped) == fingerprint(other)
    assert fingerprint(looped) != fingerprint([1, [1]])
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    assert len(fingerprint(cyclic)) == 32


class Colour(enum.Enum):
    RED = 1
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass
class Config:
    rate: float
    tags: set[str]


class Plain:
    def __init__(self, tags: set[str]) -> None:
        self.tags = tags
        self.name = "plain"


def test_enums_are_tagged_by_type_and_member() -> None:
    assert fingerprint(Colour.RED) != fingerprint(Colour.BLUE)
    assert fingerprint(Level.LOW) != fingerprint(1)
    assert fingerprint(Colour.RED) == fingerprint(Colour(1))


def test_dataclasses_hash_by_type_and_fields() -> None:
    assert fingerprint(Config(0.1, {"a", "b"})) == fingerprint(Config(0.1, {"b", "a"}))
    assert fingerprint(Config(0.1, {"a"})) != fingerprint(Config(0.2, {"a"}))
    assert fingerprint(Config(0.1, set())) != fingerprint((0.1, set()))


def test_plain_objects_hash_by_their_state() -> None:
    assert fingerprint(Plain({"a", "b"})) == fingerprint(Plain({"b", "a"}))
    assert fingerprint(Plain({"a"})) != fingerprint(Plain({"c"}))


def test_standard_value_types_differ_from_their_text() -> None:
    import uuid

    day = dt.date(2024, 1, 2)
    moment = dt.datetime(2024, 1, 2, 3, 4, 5)
    values = [day, moment, moment.replace(tzinfo=dt.UTC), Decimal("1.5"), Path("/a/b")]
    values += [uuid.UUID(int=7), dt.timedelta(seconds=3), "2024-01-02", "/a/b"]
    assert len({fingerprint(v) for v in values}) == len(values)
    assert fingerprint(Path("/a/b")) == fingerprint(Path("/a") / "b")


def test_user_functions_as_values_are_fingerprinted_by_code() -> None:
    assert fingerprint(lambda x: x + 1) == fingerprint(lambda x: x + 1)
    assert fingerprint(lambda x: x + 1) != fingerprint(lambda x: x + 2)


@pytest.mark.parametrize(
    "value",
    [threading.Lock(), (n for n in range(3))],
    ids=["lock", "generator"],
)
def test_unfingerprintable_value_raises_a_clear_error(value: Any) -> None:
    with pytest.raises(Unfingerprintable) as caught:
        fingerprint({"wrapped": [value]})
    message = str(caught.value)
    assert type(value).__name__ in message
    assert "key function" in message
    assert isinstance(caught.value, TypeError)


# -- fingerprints: user types through register() ----------------------------------------------


def test_a_registered_type_is_fingerprinted_by_what_its_hook_writes() -> None:
    class Model:
        def __init__(self, name: str, weights: bytes) -> None:
            self.name = name
            self.weights = weights
            self.lock = threading.Lock()  # no stable fingerprint: the hook leaves it out

    with pytest.raises(Unfingerprintable):
        fingerprint(Model("a", b"123"))

    @register(Model)
    def _(model: Model, out: Encoder) -> None:
        out.value(model.name)
        out.write(model.weights)

    assert fingerprint(Model("a", b"123")) == fingerprint(Model("a", b"123"))
    assert fingerprint(Model("a", b"123")) != fingerprint(Model("b", b"123"))
    assert fingerprint(Model("a", b"123")) != fingerprint(Model("a", b"124"))
    assert fingerprint([Model("a", b"1")]) != fingerprint([Model("a", b"1"), 1])


def test_encoder_writes_never_run_together_and_follow_the_type() -> None:
    class Split:
        def __init__(self, *parts: bytes) -> None:
            self.parts = parts

    class Other(Split):
        pass

    def write_parts(value: Split, out: Encoder) -> None:
        for part in value.parts:
            out.write(part)

    register(Split, write_parts)
    assert fingerprint(Split(b"ab", b"c")) != fingerprint(Split(b"a", b"bc"))
    assert fingerprint(Split(b"aw", b"b")) != fingerprint(Split(b"a", b"wb"))
    assert fingerprint(Split(b"ab", b"")) != fingerprint(Split(b"", b"ab"))
    assert fingerprint(Split(b"ab")) != fingerprint(Other(b"ab"))  # subclasses use the hook
    assert fingerprint(Split(b"ab")) != fingerprint(b"ab")


def test_a_registered_type_inside_itself_does_not_loop() -> None:
    class Ring:
        def __init__(self, label: str) -> None:
            self.label = label
            self.next = self

    register(Ring, lambda ring, out: (out.value(ring.label), out.value(ring.next)))
    one, two = Ring("a"), Ring("a")
    assert fingerprint(one) == fingerprint(two)
    two.next = Ring("b")
    assert fingerprint(one) != fingerprint(two)


def test_a_failing_hook_is_a_clear_unfingerprintable_error() -> None:
    class Broken:
        pass

    def hook(value: Broken, out: Encoder) -> None:
        raise AttributeError("no weights yet")

    register(Broken, hook)
    with pytest.raises(Unfingerprintable, match=r"hook registered for .*Broken.*no weights yet"):
        fingerprint({"model": Broken()})


_REGISTER_SCRIPT = """
import json
from flowyml_tui.engine.hashing import Encoder, fingerprint, register

class Tagged:
    def __init__(self, tags, scale):
        self.tags, self.scale = tags, scale

@register(Tagged)
def _(value: Tagged, out: Encoder) -> None:
    out.value(value.tags)
    out.value(value.scale)

words = {f"word{i}" for i in range(40)}
print(json.dumps([fingerprint(Tagged(words, 1.5)), fingerprint(Tagged(words, 2.5))]))
"""


def test_a_registered_type_fingerprints_alike_in_every_process() -> None:
    def run(seed: str) -> list[str]:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", _REGISTER_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    first, second = run("1"), run("4242")
    assert first == second
    assert first[0] != first[1]


# -- fingerprints: stability across processes ---------------------------------------------------

_STABILITY_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from flowyml_tui.engine.hashing import fingerprint
from test_hashing import stability_values
print(json.dumps([fingerprint(v) for v in stability_values()]))
"""


def stability_values() -> list[Any]:
    """Values whose naive hashing depends on PYTHONHASHSEED (set and dict iteration order)."""
    words = {f"word{i}" for i in range(40)}
    values: list[Any] = [
        words,
        frozenset(words),
        {"b": {"x", "y", "z"}, "a": [1.5, None]},
        {("k", i): str(i) for i in range(20)},
        Plain(words),
        Config(0.5, words),
    ]
    try:
        import numpy as np
        import pandas as pd
    except ImportError:
        return values
    frame = pd.DataFrame({"s": ["x", "y"], "c": pd.Categorical(["a", "b"]), "f": [1.0, 2.0]})
    frame.attrs["tags"] = set(words)
    return [*values, np.array([words, None], dtype=object), frame]


def _fingerprints_in_a_process(seed: str) -> list[str]:
    script = _STABILITY_SCRIPT.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_fingerprints_are_stable_across_processes() -> None:
    first, second = _fingerprints_in_a_process("1"), _fingerprints_in_a_process("12345")
    assert first == second
    # Builtin values name no module, so this process agrees too.
    assert first[:4] == [fingerprint(v) for v in stability_values()[:4]]


def test_importing_hashing_does_not_import_numpy_or_pandas() -> None:
    script = (
        "import sys\n"
        "from flowyml_tui.engine.hashing import fingerprint, code_identity\n"
        "fingerprint({'a': [1, 2.0, {3}], 'b': object()})\n"
        "print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- fingerprints: numpy and pandas -------------------------------------------------------------


def test_numpy_arrays_with_same_bytes_but_other_dtype_or_shape_differ() -> None:
    np = need("numpy")
    base = np.arange(12, dtype=np.int64)
    assert fingerprint(base) != fingerprint(base.view(np.float64))
    assert fingerprint(base) != fingerprint(base.reshape(3, 4))
    assert fingerprint(base.reshape(3, 4)) != fingerprint(base.reshape(4, 3))
    assert fingerprint(base) == fingerprint(np.arange(12, dtype=np.int64))


def test_numpy_changed_element_changes_the_fingerprint() -> None:
    np = need("numpy")
    data = np.random.default_rng(0).random(10_000)
    edited = data.copy()
    edited[5_000] += 1e-12
    assert fingerprint(data) != fingerprint(edited)


def test_numpy_non_contiguous_slices_hash_like_their_copies() -> None:
    np = need("numpy")
    grid = np.arange(60.0).reshape(6, 10)
    view = grid[::2, 1::3]
    assert not view.flags.c_contiguous
    assert fingerprint(view) == fingerprint(view.copy())
    assert fingerprint(np.asfortranarray(grid)) == fingerprint(grid)


def test_numpy_object_and_datetime_arrays_work() -> None:
    np = need("numpy")
    objects = np.array([{"b", "a"}, None, "x"], dtype=object)
    same = np.array([{"a", "b"}, None, "x"], dtype=object)
    assert fingerprint(objects) == fingerprint(same)
    days = np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")
    assert fingerprint(days) != fingerprint(days.astype("datetime64[s]"))


def test_numpy_scalars_are_tagged_by_dtype() -> None:
    np = need("numpy")
    values = [np.float64(1.0), np.float32(1.0), np.int64(1), 1.0, 1]
    assert len({fingerprint(v) for v in values}) == len(values)


def test_pandas_equal_frames_built_differently_match() -> None:
    pd = need("pandas")
    by_dict = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]})
    by_rows = pd.DataFrame([[1, 0.5, "x"], [2, 1.5, "y"], [3, 2.5, "z"]], columns=["a", "b", "c"])
    by_columns = pd.DataFrame({"a": [1, 2, 3]})
    by_columns["b"] = [0.5, 1.5, 2.5]
    by_columns["c"] = ["x", "y", "z"]
    assert fingerprint(by_dict) == fingerprint(by_rows) == fingerprint(by_columns)


def test_pandas_changed_cell_name_or_index_changes_the_fingerprint() -> None:
    pd = need("pandas")
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    cell = frame.copy()
    cell.loc[1, "b"] = 9.0
    renamed = frame.rename(columns={"b": "B"})
    reindexed = frame.set_axis([10, 11, 12])
    digests = {fingerprint(f) for f in (frame, cell, renamed, reindexed)}
    assert len(digests) == 4
    series = frame["a"]
    assert fingerprint(series) != fingerprint(series.rename("z"))


# -- code identity --------------------------------------------------------------------------------

STEP_V1 = """
from flowyml_tui import step

def helper(x):
    return x * 2

def unrelated(x):
    return x - 1

@step(outputs=["doubled"], ttl=10)
def double(x):
    return helper(x) + 1

@step(outputs=["minus"])
def minus(x):
    return unrelated(x)
"""


def test_comment_whitespace_and_docstring_edits_keep_the_hash(load) -> None:
    edited = """
    from flowyml_tui import step


    def helper(x):
        '''Doubles.'''
        return x  *  2   # the factor


    def unrelated(x):
        return x - 1

    @step(outputs=["doubled"], ttl=10)
    def double(x):
        \"\"\"A docstring now.\"\"\"
        # a comment
        return helper(
            x,
        ) + 1

    @step(outputs=["minus"])
    def minus(x):
        return unrelated(x)
    """
    assert (
        ident(load({"pipeline.py": STEP_V1}), "double").hash
        == ident(load({"pipeline.py": edited}), "double").hash
    )


def test_body_edit_changes_the_hash(load) -> None:
    edited = STEP_V1.replace("return helper(x) + 1", "return helper(x) + 2")
    assert (
        ident(load({"pipeline.py": STEP_V1}), "double").hash
        != ident(load({"pipeline.py": edited}), "double").hash
    )


def test_helper_edit_changes_only_the_steps_that_use_it(load) -> None:
    before = load({"pipeline.py": STEP_V1})
    after = load({"pipeline.py": STEP_V1.replace("return x * 2", "return x * 3")})
    assert ident(before, "double").hash != ident(after, "double").hash
    assert ident(before, "minus").hash == ident(after, "minus").hash
    changed = ident(after, "double")
    assert "return x * 3" in changed.sources[f"{after.__name__}:helper"]


def test_decorator_argument_change_keeps_the_hash(load) -> None:
    edited = STEP_V1.replace("ttl=10", "ttl=3600")
    assert (
        ident(load({"pipeline.py": STEP_V1}), "double").hash
        == ident(load({"pipeline.py": edited}), "double").hash
    )


def test_strict_mode_sees_a_comment_change(load) -> None:
    edited = STEP_V1.replace("return helper(x) + 1", "return helper(x) + 1  # note")
    before, after = load({"pipeline.py": STEP_V1}), load({"pipeline.py": edited})
    assert ident(before, "double", "source").hash != ident(after, "double", "source").hash
    assert ident(before, "double").hash == ident(after, "double").hash


def test_strict_mode_still_follows_helpers(load) -> None:
    before = load({"pipeline.py": STEP_V1})
    after = load({"pipeline.py": STEP_V1.replace("return x * 2", "return x * 2  # x2")})
    assert ident(before, "double", "source").hash != ident(after, "double", "source").hash


def test_module_constant_change_changes_the_hash(load) -> None:
    source = """
    FACTOR = {"scale": 2, "names": ("a", "b")}
    OTHER = 1

    def scale(x):
        return x * FACTOR["scale"]
    """
    before = load({"pipeline.py": source})
    after = load({"pipeline.py": source.replace('"scale": 2', '"scale": 3')})
    other = load({"pipeline.py": source.replace("OTHER = 1", "OTHER = 2")})
    assert ident(before, "scale").hash != ident(after, "scale").hash
    assert ident(before, "scale").hash == ident(other, "scale").hash


def test_helper_in_a_sibling_module_is_tracked(load) -> None:
    pipeline = """
    import helpers
    from helpers import tidy

    def uses_attribute(x):
        return helpers.clean(x)

    def uses_import(x):
        return tidy(x)
    """
    helpers = """
    LIMIT = 10

    def clean(x):
        return min(x, LIMIT)

    def tidy(x):
        return x.strip()
    """
    before = load({"pipeline.py": pipeline, "helpers.py": helpers})
    clean_edit = load({"pipeline.py": pipeline, "helpers.py": helpers.replace("min(x", "max(x")})
    limit_edit = load(
        {"pipeline.py": pipeline, "helpers.py": helpers.replace("LIMIT = 10", "LIMIT = 11")}
    )
    tidy_edit = load(
        {"pipeline.py": pipeline, "helpers.py": helpers.replace("x.strip()", "x.lstrip()")}
    )
    assert ident(before, "uses_attribute").hash != ident(clean_edit, "uses_attribute").hash
    assert ident(before, "uses_attribute").hash != ident(limit_edit, "uses_attribute").hash
    assert ident(before, "uses_attribute").hash == ident(tidy_edit, "uses_attribute").hash
    assert ident(before, "uses_import").hash != ident(tidy_edit, "uses_import").hash
    assert "helpers:clean" in ident(before, "uses_attribute").functions


def test_helper_in_a_subpackage_is_tracked_through_attribute_chains(load) -> None:
    pipeline = """
    import tools

    def run(x):
        return tools.maths.square(x)
    """
    package = {"tools/__init__.py": "from . import maths\n"}
    maths = "def square(x):\n    return x * x\n"
    before = load({"pipeline.py": pipeline, **package, "tools/maths.py": maths})
    after = load({"pipeline.py": pipeline, **package, "tools/maths.py": maths.replace("*", "**")})
    assert ident(before, "run").hash != ident(after, "run").hash
    assert "tools.maths:square" in ident(before, "run").functions


def test_an_attribute_named_like_a_global_is_not_a_reference(load) -> None:
    source = """
    model = {"weights": [1, 2, 3]}

    def run(box):
        return box.model + 1
    """
    before = load({"pipeline.py": source})
    after = load({"pipeline.py": source.replace("[1, 2, 3]", "[1, 2, 4]")})
    assert ident(before, "run").hash == ident(after, "run").hash
    assert list(ident(before, "run").functions) == [ident(before, "run").root]


def test_class_method_edit_changes_the_hash(load) -> None:
    source = """
    class Model:
        def predict(self, x):
            return x + 1

    def run(x):
        return Model().predict(x)
    """
    before = load({"pipeline.py": source})
    after = load({"pipeline.py": source.replace("x + 1", "x + 2")})
    assert ident(before, "run").hash != ident(after, "run").hash


def test_mutually_recursive_helpers_do_not_loop(load) -> None:
    source = """
    def even(n):
        return True if n == 0 else odd(n - 1)

    def odd(n):
        return False if n == 0 else even(n - 1)

    def run(n):
        return even(n)
    """
    identity = ident(load({"pipeline.py": source}), "run")
    assert {key.split(":")[1] for key in identity.functions} == {"run", "even", "odd"}


def test_a_step_calling_another_step_follows_its_function(load) -> None:
    source = """
    from flowyml_tui import step

    @step
    def inner(x):
        return x + 1

    @step
    def outer(x):
        return inner(x) * 2
    """
    before = load({"pipeline.py": source})
    after = load({"pipeline.py": source.replace("x + 1", "x + 5")})
    assert ident(before, "outer").hash != ident(after, "outer").hash


def test_closure_values_and_default_arguments_count(load) -> None:
    source = """
    RATE = 0.5

    def make(k):
        def inner(x):
            return x * k
        return inner

    scaled = make(3)

    def with_default(x, rate=RATE):
        return x * rate
    """
    before = load({"pipeline.py": source})
    closure_edit = load({"pipeline.py": source.replace("make(3)", "make(4)")})
    default_edit = load({"pipeline.py": source.replace("RATE = 0.5", "RATE = 0.6")})
    assert ident(before, "scaled").hash != ident(closure_edit, "scaled").hash
    assert ident(before, "with_default").hash != ident(default_edit, "with_default").hash


def test_third_party_code_counts_by_package_version(load) -> None:
    need("numpy")
    source = """
    import json
    import numpy as np

    def run(x):
        return json.dumps(np.sum(x).item())
    """
    identity = ident(load({"pipeline.py": source}), "run")
    import numpy

    assert identity.packages == {"numpy": numpy.__version__}
    assert list(identity.functions) == [identity.root]


def test_two_lambdas_on_one_line_are_told_apart(load) -> None:
    source = "pair = (lambda x: x + 1, lambda x: x + 2)\n"
    module = load({"pipeline.py": source})
    first, second = (code_identity(f) for f in module.pair)
    assert first.hash != second.hash
    assert first.sources[first.root] == "lambda x: x + 1"


def test_a_file_saved_mid_edit_since_its_import_gives_no_source_digest(load) -> None:
    """The file on disk no longer parses (the user is typing): neither a def nor a lambda
    in it has a source to hash, and asking is no error. A digest is never made of the bytes
    of another version than the one that was imported."""
    from flowyml_tui.engine.hashing.normalise import function_digest

    module = load({"pipeline.py": "def f(x):\n    return x + 1\ng = lambda y: y * 2\n"})
    assert function_digest(module.f, False, "ast") is not None
    path = Path(module.__file__)
    path.write_text("def f(x:\n    return x + 1\ng = lambda y: y * 2\n")

    assert function_digest(module.f, False, "ast") is None
    assert function_digest(module.g, False, "ast") is None


def test_code_without_source_falls_back_to_the_code_object() -> None:
    def make(body: str) -> Any:
        namespace: dict[str, Any] = {}
        exec(f"def f(x):\n    return {body}\n", namespace)
        return namespace["f"]

    assert code_identity(make("x + 1")).hash == code_identity(make("x + 1")).hash
    assert code_identity(make("x + 1")).hash != code_identity(make("x + 2")).hash


def test_identity_is_memoised_per_function_object(load) -> None:
    module = load({"pipeline.py": STEP_V1})
    assert code_identity(module.double.func) is code_identity(module.double.func)


def test_identity_lists_sources_as_written(load) -> None:
    module = load({"pipeline.py": STEP_V1})
    identity = ident(module, "double")
    assert identity.root == f"{module.__name__}:double"
    assert identity.sources[identity.root].startswith('@step(outputs=["doubled"], ttl=10)')
    assert set(identity.functions) == {identity.root, f"{module.__name__}:helper"}


def test_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'ast' or 'source'"):
        code_identity(test_unknown_mode_is_a_clear_error, mode="bytes")
