"""Experimental conditions of the study (paper section 1), one registry entry each.

A condition says which SFT kind a student is trained on (or that it is not trained at all, for
direct prompting) and which corruption makes its traces incorrect. The grid runner only looks
conditions up by name, so a new condition is an entry here plus a YAML line, not a new script.

The ``teacher_*`` conditions (paper section 4; ``teacher_sft.py``, ``docs/teacher.md``) are run by
the grid's teacher stage, on the teacher-solved subset only: the three teacher-text kinds and the
controls ``teacher_none``/``teacher_correct``/``teacher_incorrect``/``teacher_swap`` (the existing
kinds restricted to exactly the same problem ids).

Examples
--------
>>> get_condition("incorrect").kind
'incorrect'
>>> get_condition("direct").trains
False
"""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import CONDITIONS


@dataclass(frozen=True)
class Condition:
    """One SFT condition.

    Parameters
    ----------
    name : str
        Registry name used in profiles (``conditions: [...]``).
    title : str
        Human-readable name for tables and figures.
    kind : str or None
        SFT kind (``none``, ``label_only``, ``correct``, ``incorrect``); ``None`` = no training.
    corruption : str or None
        Fixed corruption for this condition; ``None`` for ``incorrect`` means "use the profile's
        ``trace.corruption``".
    has_trace : bool
        Whether the student is trained to emit a decomposed trace (label/retrieval scoring).
    teacher : bool
        Whether the condition belongs to the teacher stage (trained on the teacher-solved subset,
        evaluated on the common teacher test subset), not to the main grid.
    """

    name: str
    title: str
    kind: str | None
    corruption: str | None = None
    has_trace: bool = True
    teacher: bool = False

    @property
    def trains(self) -> bool:
        """False for conditions evaluated without fine-tuning (direct prompting)."""
        return self.kind is not None


for _c in (
    Condition("direct", "Direct prompting", None, has_trace=False),
    Condition("vanilla", "SFT vanilla (answer only)", "none", has_trace=False),
    Condition("label_only", "SFT label-only trace", "label_only"),
    Condition("correct", "SFT correct traces", "correct"),
    Condition("incorrect", "SFT incorrect traces", "incorrect"),
    Condition("incorrect_label", "SFT incorrect label step", "incorrect", corruption="label"),
    Condition(
        "incorrect_retrieval", "SFT incorrect retrieval step", "incorrect", corruption="retrieval"
    ),
    Condition("swapped", "SFT swapped traces", "incorrect", corruption="swap"),
    Condition(
        "teacher_trace", "SFT teacher traces", "teacher_trace", has_trace=False, teacher=True
    ),
    Condition(
        "teacher_summary",
        "SFT teacher-trace summaries",
        "teacher_summary",
        has_trace=False,
        teacher=True,
    ),
    Condition(
        "teacher_explanation",
        "SFT post-hoc explanations",
        "teacher_explanation",
        has_trace=False,
        teacher=True,
    ),
    Condition("teacher_none", "Teacher set: vanilla", "none", has_trace=False, teacher=True),
    Condition("teacher_correct", "Teacher set: correct traces", "correct", teacher=True),
    Condition("teacher_incorrect", "Teacher set: incorrect traces", "incorrect", teacher=True),
    Condition(
        "teacher_swap", "Teacher set: swapped traces", "incorrect", corruption="swap", teacher=True
    ),
):
    CONDITIONS.add(_c.name, _c)


def get_condition(name: str) -> Condition:
    """Look a condition up by name (``UnknownNameError`` lists the known ones)."""
    return CONDITIONS.get(name)
