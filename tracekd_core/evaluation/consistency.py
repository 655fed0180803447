"""Answer-trace consistency: does the answer follow from the facts the trace states?

Issue 9 of the audit (book chapter 4). On CoTemp the gold retrieval step is the set of facts that
contain the answer, so "retrieval correct" nearly means "picked the answer": the answer x
retrieval table measures whether an answer agrees with its own trace, not whether correct
reasoning leads to a correct answer. This module names that quantity and measures it on its own:
the dataset's solver (``datasets.solve``: interval/slot solver for CoTemp, the per-task bAbI
solver, the MARCO pattern extractor) is run on the *stated* label and the *stated* facts, and
the student's answer is scored (strict scorer) against what the solver derives.

``consistent`` is

* ``True`` / ``False`` when the trace states facts and an answer and the solver covers the
  problem (it reproduces the gold answer from the gold support);
* ``False`` also when the solver derives nothing from the stated facts of a covered problem (the
  answer cannot follow from them);
* ``None`` when there is no stated retrieval step or no answer, or the solver does not cover
  the problem at all (e.g. real MS MARCO queries).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ..datasets import solve
from ..records import Problem
from ..text import normalize_text
from .parse import ParsedOutput
from .strict import _answer

log = logging.getLogger(__name__)


def _solve(problem: Problem) -> list[str]:
    try:
        return [a for a in solve(problem) if str(a).strip()]
    except Exception as e:  # a solver fed a student's facts may meet any shape  # noqa: BLE001
        log.debug("solver failed on %s: %s: %s", problem.id, type(e).__name__, e)
        return []


def covered(problem: Problem) -> bool:
    """Whether the dataset's solver reproduces the gold answer from the gold support."""

    derived = _solve(problem)
    gold = problem.answers if problem.dataset == "cotemp" else problem.answers[:1]
    return bool(derived) and {normalize_text(a) for a in derived} == {
        normalize_text(g) for g in gold
    }


def stated_problem(problem: Problem, parsed: ParsedOutput) -> Problem | None:
    """The problem restricted to what the trace states: its facts as context and support.

    Returns ``None`` when the trace states no retrieval step.

    Examples
    --------
    >>> p = Problem(id="x", dataset="babi", split="test", question="Where is Bob?",
    ...             context=["Bob went to the kitchen.", "Bob went to the garden."],
    ...             answers=["garden"], label="single-supporting-fact", support=[1])
    >>> po = ParsedOutput("t", "single-supporting-fact", ["Bob went to the kitchen."], "kitchen",
    ...                   ["kitchen"], "ok")
    >>> stated_problem(p, po).support_text
    ['Bob went to the kitchen.']
    """
    if parsed.retrieval_step is None:
        return None
    facts = [f for f in parsed.retrieval_step if f.strip()]
    label = parsed.label_step if parsed.label_step else problem.label
    return replace(problem, context=facts, support=list(range(len(facts))), label=label)


def consistency(problem: Problem, parsed: ParsedOutput | None) -> dict[str, Any]:
    """``{"consistent", "derived"}``: the answer scored against the solver on the stated trace.

    Examples
    --------
    >>> p = Problem(id="x", dataset="babi", split="test", question="Where is Bob?",
    ...             context=["Bob went to the kitchen.", "Bob went to the garden."],
    ...             answers=["garden"], label="single-supporting-fact", support=[1])
    >>> wrong_facts = ParsedOutput("t", "single-supporting-fact", ["Bob went to the kitchen."],
    ...                            "garden", ["garden"], "ok")
    >>> consistency(p, wrong_facts)
    {'consistent': False, 'derived': ['kitchen']}
    >>> follows = ParsedOutput("t", "single-supporting-fact", ["Bob went to the kitchen."],
    ...                        "kitchen", ["kitchen"], "ok")
    >>> consistency(p, follows)["consistent"]
    True
    """

    none = {"consistent": None, "derived": None}
    if parsed is None or parsed.answer is None:
        return none
    stated = stated_problem(problem, parsed)
    if stated is None or not covered(problem):
        return none
    derived = _solve(stated)
    if not derived:
        return {"consistent": False, "derived": []}
    target = replace(stated, answers=derived)
    return {"consistent": bool(_answer(target, parsed)["correct"]), "derived": derived}
