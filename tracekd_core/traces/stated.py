"""What a trace states, and the tags that delimit it (paper section 2; ARCHITECTURE.md "SFT").

The smallest piece of the trace stage: every other module of ``traces/`` (templates and kinds
in ``decompose.py``, corruptions in ``corrupt.py``, the record contract in ``sft.py``) and the
parser's expectations build on these, so none of them needs to import another in a circle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..records import Problem

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def gold_trace(problem: Problem) -> tuple[str, list[int]]:
    """The gold decomposition ``(label, support)`` of ``problem`` (attached by the loaders).

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="train", question="Q?",
    ...             context=["A works for B.", "A works for C."], answers=["B"],
    ...             label="equal", support=[0])
    >>> gold_trace(p)
    ('equal', [0])
    """
    return problem.label, list(problem.support)


@dataclass(frozen=True)
class StatedTrace:
    """What a trace *states* (gold or not), checkable against the problem's gold.

    Parameters
    ----------
    label : str or None
        Stated classification label (``None``: no label sentence).
    support : list of int or None
        Indices into *this* problem's context of the stated support (``None`` when there is no
        retrieval sentence, or when the texts come from another problem: ``swap``).
    support_text : list of str or None
        The stated support texts (``None``: no retrieval sentence).
    swapped_from : str or None
        Id of the donor problem for ``swap``.
    """

    label: str | None
    support: list[int] | None
    support_text: list[str] | None
    swapped_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``trace`` field of an SFT record."""
        return asdict(self)
