r"""A diamond DAG: one source, two independent branches, one join.

      source
      /    \
  squares  cubes
      \    /
      combine

Edit `cubes` and save: `squares` stays cached, `cubes` and `combine` re-run.
"""

import time

from flowyml_tui import Pipeline, step


@step(outputs=["numbers"])
def source(count: int = 50):
    time.sleep(0.3)
    return list(range(1, count + 1))


@step(inputs=["numbers"], outputs=["squares"])
def squares(numbers):
    time.sleep(0.4)
    return [n * n for n in numbers]


@step(inputs=["numbers"], outputs=["cubes"])
def cubes(numbers):
    time.sleep(0.4)
    return [n**3 for n in numbers]


@step(inputs=["squares", "cubes"], outputs=["ratio"])
def combine(squares, cubes):
    return round(sum(cubes) / sum(squares), 3)


pipeline = Pipeline("diamond")
pipeline.add_step(source).add_step(squares).add_step(cubes).add_step(combine)
