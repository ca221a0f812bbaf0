r"""Three slow branches that do not depend on each other: worth running at once.

              words
         /      |      \
    letters  vowels  lengths      (1 s each: stand-ins for slow queries)
         \      |      /
            summary

    flowyml-tui run pipelines/fanout.py            # one at a time: about 3 s
    flowyml-tui run pipelines/fanout.py --jobs 3   # at once: about 1 s (plus the pool's start)

Edit one branch and save: the other two stay cached, that branch and `summary` re-run.
"""

import time

from flowyml_tui import Pipeline, step

TEXT = "independent steps run at once when the runner has room for them"


@step(outputs=["words"])
def words():
    return TEXT.split()


@step(inputs=["words"], outputs=["letters"])
def letters(words):
    time.sleep(1.0)
    return sum(len(w) for w in words)


@step(inputs=["words"], outputs=["vowels"])
def vowels(words):
    time.sleep(1.0)
    return sum(ch in "aeiou" for w in words for ch in w)


@step(inputs=["words"], outputs=["lengths"])
def lengths(words):
    time.sleep(1.0)
    return sorted({len(w) for w in words})


@step(inputs=["letters", "vowels", "lengths"], outputs=["summary"])
def summary(letters, vowels, lengths):
    return {"letters": letters, "vowel share": round(vowels / letters, 3), "lengths": lengths}


pipeline = Pipeline("fanout")
for s in (words, letters, vowels, lengths, summary):
    pipeline.add_step(s)
