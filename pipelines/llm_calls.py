"""LLM calls through a call cache: a step that runs again does not pay for prompts it has sent.

    flowyml-tui pipelines/llm_calls.py        # the workbench: re-runs on every save
    flowyml-tui run pipelines/llm_calls.py    # once, headless

`ask_llm` stands in for a slow model API (one second a prompt, stdlib only). The first run
sends all four prompts. Now add a question to QUESTIONS and save: `answer` runs again, since
its input changed, but only the new prompt reaches the "model"; the others come from the call
cache under the pipeline's cache dir, and the Why pane says `Calls: 4 hit / 1 miss · saved
4.00s`. `x` in the workbench clears the step's call caches; `i` then re-runs it.
"""

import time

from flowyml_tui import CachePrimitive, Pipeline, WorkflowContext, step

QUESTIONS = [
    "What does a content-addressed cache key on?",
    "Why re-run only what changed?",
    "What is early cutoff?",
    "When should a cache entry expire?",
]


def ask_llm(prompt: str, context: WorkflowContext) -> str:
    """The slow, paid part: here a sleep and a canned answer."""
    time.sleep(1.0)
    return f"[{context.get('model', 'fake-llm')}] {len(prompt.split())} words, answered"


# Without backend=, entries persist under the pipeline's cache dir in a run (every TUI run is a
# fresh process); in a plain script they stay in memory. The key is the prompt plus the model.
llm = CachePrimitive(
    ask_llm,
    ttl_seconds=7 * 24 * 3600,
    key_fn=lambda prompt, context: f"{context.get('model')}:{prompt}",
    name="fake-llm",
)


@step(outputs=["questions"])
def questions():
    return [q.strip() for q in QUESTIONS if q.strip()]


@step(inputs=["questions"], outputs=["answers"])
def answer(questions, model: str = "fake-llm-1"):
    context = WorkflowContext(workflow_id="llm_calls", model=model)
    answers = {q: llm.call(q, context) for q in questions}
    print(f"{context.state.get('cache_hits', 0)} answers from the call cache")
    return answers


@step(inputs=["answers"], outputs=["digest"])
def digest(answers):
    return "\n".join(f"- {q} -> {a}" for q, a in answers.items())


pipeline = Pipeline("llm_calls", cache_dir=".flowyml/cache")
pipeline.add_step(questions).add_step(answer).add_step(digest)
