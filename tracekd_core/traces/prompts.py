"""System and user prompts per dataset: ONE template for training and inference (paper 2.4).

The reference rendered the SFT user turn and the SFT-inference user turn from different templates
(bAbI moved "Only return the answer." onto its own line at inference; the R1 conditions trained on
``\\n``-joined facts and were tested on list-repr facts). Here ``prompt_messages`` is the only
place a prompt is built, so ``decompose`` (training targets) and ``generate`` (inference) cannot
drift apart.

User turns follow PAPER_NOTES 2.1-2.3 exactly:

* CoTemp: ``Answer the question based on the context:\\n{facts list repr}\\nQuestion: {question}
  Only return the answer.\\n``
* bAbI: ``Answer the question based on the context:\\n{lines joined by \\n}\\nQuestion:
  {question} Only return the answer.\\n``
* MARCO: ``Answer the question based on the context:\\n{passages list repr}\\nQuestion: {query}
  \\nOnly return the answer.\\n``

Each dataset's user turn is its ``DatasetSpec.user_prompt`` (defined in its module under
``datasets/``, looked up in ``registry.DATASETS``); a new system message is one entry in
``SYSTEM_PROMPTS``.
"""

from __future__ import annotations

import logging

from ..errors import ConfigError
from ..records import Problem
from ..registry import DATASETS

log = logging.getLogger(__name__)

#: Neutral default system message (no model name, no persona claims).
NEUTRAL_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer questions using only the context you are given."
)

#: The reference SFT script's system message; ``{name}`` was "Llama" (Qwen/Gemma/Mistral runs
#: swapped in their own name). Kept for reference-compatible runs.
REFERENCE_SYSTEM_PROMPT = (
    "You are {name}, an AI assistant created to be helpful and honest. Your knowledge spans a "
    "wide range of topics, allowing you to engage in substantive conversations and provide "
    "analysis on complex subjects."
)

#: Named system messages (``system_prompt(name)``); ``{name}`` is the model name placeholder.
SYSTEM_PROMPTS: dict[str, str] = {
    "neutral": NEUTRAL_SYSTEM_PROMPT,
    "reference": REFERENCE_SYSTEM_PROMPT,
}


def system_prompt(name: str = "neutral", *, model_name: str = "Llama") -> str:
    """The system message called ``name``.

    Parameters
    ----------
    name : str, default="neutral"
        Key of ``SYSTEM_PROMPTS``: ``neutral`` (default) or ``reference`` (the reference's
        "You are Llama, an AI assistant created to be helpful and honest..." message).
    model_name : str, default="Llama"
        Substituted for ``{name}`` in the ``reference`` message (the reference swapped in
        "Qwen", "Gemma"... for other students).

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        If ``name`` is not a key of ``SYSTEM_PROMPTS``.

    Examples
    --------
    >>> system_prompt().startswith("You are a helpful assistant.")
    True
    >>> system_prompt("reference", model_name="Qwen")[:45]
    'You are Qwen, an AI assistant created to be h'
    """
    try:
        text = SYSTEM_PROMPTS[name]
    except KeyError:
        raise ConfigError(
            f"system prompt {name!r} is unknown; use one of {sorted(SYSTEM_PROMPTS)} "
            "or add an entry to prompts.SYSTEM_PROMPTS."
        ) from None
    return text.replace("{name}", model_name)


def user_prompt(problem: Problem) -> str:
    """The user turn of ``problem`` (identical at training and at inference).

    Parameters
    ----------
    problem : Problem
        A validated problem record.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        If ``problem.dataset`` is not a registered dataset.

    Examples
    --------
    >>> p = Problem(id="c1", dataset="cotemp", split="test", question="Q?",
    ...             context=["A works for B from 2001 to 2003."], answers=["B"],
    ...             label="equal", support=[0])
    >>> user_prompt(p)
    "Answer the question based on the context:\\n['A works for B from 2001 to 2003.']\\nQuestion: Q? Only return the answer.\\n"
    >>> b = Problem(id="b1", dataset="babi", split="test", question="Where is Mary?",
    ...             context=["Mary went to the hallway.", "John moved to the garden."],
    ...             answers=["hallway"], label="single-supporting-fact", support=[0])
    >>> print(user_prompt(b), end="")
    Answer the question based on the context:
    Mary went to the hallway.
    John moved to the garden.
    Question: Where is Mary? Only return the answer.
    """  # noqa: E501
    if problem.dataset not in DATASETS:
        raise ConfigError(
            f"problem {problem.id!r}: no user prompt for dataset {problem.dataset!r}; known: "
            f"{DATASETS.names()}. Register the dataset's DatasetSpec in datasets/__init__.py."
        )
    return DATASETS.get(problem.dataset).user_prompt(problem)


def prompt_messages(
    problem: Problem, *, system: str = "neutral", model_name: str = "Llama"
) -> list[dict[str, str]]:
    """The ``[system, user]`` conversation of ``problem``.

    Generation renders this with ``add_generation_prompt=True``; training appends the assistant
    target from ``decompose.build_sft_examples``.

    Parameters
    ----------
    problem : Problem
        A validated problem record.
    system : str, default="neutral"
        Name of the system message (see ``system_prompt``).
    model_name : str, default="Llama"
        Model name for the ``reference`` system message.

    Returns
    -------
    list of dict
        ``[{"role": "system", "content": ...}, {"role": "user", "content": ...}]``.

    Examples
    --------
    >>> m = Problem(id="m1", dataset="marco", split="test", question="what is x",
    ...             context=["x is a letter."], answers=["a letter"], label="DESCRIPTION",
    ...             support=[0])
    >>> msgs = prompt_messages(m)
    >>> [x["role"] for x in msgs]
    ['system', 'user']
    >>> msgs[1]["content"].endswith("Question: what is x\\nOnly return the answer.\\n")
    True
    """
    return [
        {"role": "system", "content": system_prompt(system, model_name=model_name)},
        {"role": "user", "content": user_prompt(problem)},
    ]
