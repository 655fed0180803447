"""The interpretability study instrument: items, anchors, attention checks, order (paper 7).

The reference rated four trace types (R1 traces, summaries of them, post-hoc explanations and
the decomposed, verifiably correct traces) on "a standardised 5-point Likert scale covering
interpretability and cognitive load" with 100 participants; the wording, the number of items
and the design were not published (PAPER_NOTES 7, 10.13). This module fixes ours, documented in
``docs/study.md``:

* three interpretability items and three cognitive-load items per stimulus, each on the same
  5-point agreement scale (:data:`ANCHORS`); a construct's score is the mean of its items, so
  higher interpretability = easier to follow, higher cognitive load = more effort (the
  direction of the paper's 4.59 "highest load" for R1 traces);
* two attention checks per participant (:data:`ATTENTION_CHECKS`), each an item that instructs
  a specific answer, placed on the pages at one third and two thirds of the participant's order;
* a within-subject design: every participant rates every stimulus, in an order shuffled by a
  PRNG seeded from ``(survey seed, participant id)``. The survey page (JavaScript) and
  :func:`stimulus_order` (Python) implement the same FNV-1a hash, mulberry32 generator and
  Fisher-Yates shuffle, so the order a participant saw can be recomputed and checked.

Examples
--------
>>> stimulus_order(["a", "b", "c", "d"], seed=0, participant="P1") == stimulus_order(
...     ["a", "b", "c", "d"], seed=0, participant="P1")
True
>>> sorted(stimulus_order(["a", "b", "c"], seed=3, participant="x"))
['a', 'b', 'c']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

#: The trace types of the study (paper 7), in the order tables show them.
TRACE_TYPES: tuple[str, ...] = (
    "teacher_trace",
    "teacher_summary",
    "teacher_explanation",
    "decomposed",
)
#: Human-readable names of the trace types (tables and docs; never shown to participants).
TYPE_TITLES: dict[str, str] = {
    "teacher_trace": "Teacher (R1-style) trace",
    "teacher_summary": "Summary of the teacher trace",
    "teacher_explanation": "Post-hoc explanation",
    "decomposed": "Decomposed (verifiably correct) trace",
}

#: The 5-point agreement scale shared by every item (value -> anchor label).
ANCHORS: dict[int, str] = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neither agree nor disagree",
    4: "Agree",
    5: "Strongly agree",
}


@dataclass(frozen=True)
class Item:
    """One Likert item: id, construct (``interpretability`` or ``cognitive_load``), wording."""

    id: str
    construct: str
    text: str


#: The rated items, in the order they appear under every stimulus.
ITEMS: tuple[Item, ...] = (
    Item("I1", "interpretability", "I could follow how this reasoning arrives at its answer."),
    Item("I2", "interpretability", "Each step of this reasoning is clear to me."),
    Item(
        "I3",
        "interpretability",
        "This reasoning would let me check whether the answer is right.",
    ),
    Item("C1", "cognitive_load", "Understanding this reasoning took a lot of mental effort."),
    Item("C2", "cognitive_load", "This reasoning is long or complicated to read."),
    Item("C3", "cognitive_load", "I had to re-read parts of this reasoning to understand it."),
)
CONSTRUCTS: tuple[str, ...] = ("interpretability", "cognitive_load")


@dataclass(frozen=True)
class AttentionCheck:
    """An item that instructs its own answer; a participant passes it by giving ``expected``."""

    id: str
    text: str
    expected: int
    at_fraction: float


ATTENTION_CHECKS: tuple[AttentionCheck, ...] = (
    AttentionCheck(
        "A1", "To show that you are reading carefully, please select 'Disagree' here.", 2, 1 / 3
    ),
    AttentionCheck(
        "A2", "This is an attention check: please select 'Strongly agree' here.", 5, 2 / 3
    ),
)


def design_dict() -> dict:
    """The instrument as plain JSON (embedded into the survey page and ``stimuli.json``)."""
    return {
        "anchors": {str(k): v for k, v in ANCHORS.items()},
        "items": [asdict(i) for i in ITEMS],
        "attention_checks": [asdict(a) for a in ATTENTION_CHECKS],
    }


_MASK = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    """JavaScript's ``Math.imul`` on unsigned 32-bit values (low 32 bits of the product)."""
    return ((a & _MASK) * (b & _MASK)) & _MASK


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a hash of the UTF-8 bytes of ``text`` (as the survey page computes it).

    Examples
    --------
    >>> hex(fnv1a32(""))
    '0x811c9dc5'
    >>> hex(fnv1a32("a"))
    '0xe40c292c'
    """
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = _imul(h ^ b, 0x01000193)
    return h


def mulberry32(state: int) -> Iterator[float]:
    """The mulberry32 generator: floats in ``[0, 1)``, bit-identical to the survey's JS."""
    a = state & _MASK
    while True:
        a = (a + 0x6D2B79F5) & _MASK
        t = _imul(a ^ (a >> 15), 1 | a)
        t = ((t + _imul(t ^ (t >> 7), 61 | t)) & _MASK) ^ t
        yield ((t ^ (t >> 14)) & _MASK) / 4294967296


def stimulus_order(stimulus_ids: Sequence[str], *, seed: int, participant: str) -> list[str]:
    """The order in which ``participant`` sees the stimuli (Fisher-Yates with mulberry32).

    Parameters
    ----------
    stimulus_ids : sequence of str
        Stimulus ids in their canonical (``stimuli.json``) order.
    seed : int
        The survey seed (``study export --seed``).
    participant : str
        The participant id (e.g. a Prolific PID).

    Returns
    -------
    list of str
        A permutation of ``stimulus_ids``.
    """
    order = list(stimulus_ids)
    rng = mulberry32(fnv1a32(f"{seed}:{participant}"))
    for i in range(len(order) - 1, 0, -1):
        j = int(next(rng) * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


def attention_positions(n_pages: int) -> dict[str, int]:
    """Page index (0-based, in the participant's order) that carries each attention check.

    Examples
    --------
    >>> attention_positions(12)
    {'A1': 4, 'A2': 8}
    >>> attention_positions(1)
    {'A1': 0, 'A2': 0}
    """
    return {a.id: min(n_pages - 1, int(a.at_fraction * n_pages)) for a in ATTENTION_CHECKS}
