"""Decomposition into a trace (label + support) and the SFT examples built from it (paper 2).

Every problem is decomposed by rules into a classification step (its ``label``) and an
information-retrieval step (its ``support``: indices of the supporting context items); the
dataset loaders attach both, ``gold_trace`` reads them. A *trace template* turns what a trace
states (label, support texts) plus the gold answer into the assistant target and records the
character spans of the trace and the answer, so training masks the loss from offsets, never by
searching template text. An *SFT kind* decides what the trace states:

========== ==================================================================================
kind       assistant target
========== ==================================================================================
none       the bare answer (vanilla SFT)
label_only ``<think>{label sentence}</think> <answer>..</answer>`` (the reference's ablation)
correct    gold label + gold support
incorrect  a corruption from ``corrupt.py`` (default ``both``); the gold answer is kept
========== ==================================================================================

The ``reference`` template reproduces PAPER_NOTES 2.1-2.3 exactly (one deliberate choice: the
MARCO support is a list repr like the other datasets, as ARCHITECTURE.md fixes). The sentence
constants below are the contract the parser (``parse.py``) is checked against: a label sentence
is ``LABEL_SENTENCE[dataset] + label + LABEL_END``, a retrieval sentence is
``RETRIEVAL_SENTENCE[dataset] + repr(support_texts)``. The SFT record contract
(``validate_sft``, ``read_sft``) and the ``<think>``/``<answer>`` tags are in ``sft.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from ..datasets import spec_field
from ..errors import ConfigError, RecordError
from ..records import Problem
from ..registry import SFT_KINDS, TRACE_TEMPLATES
from .corrupt import corrupt_all
from .prompts import prompt_messages
from .sft import validate_sft
from .stated import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, StatedTrace

log = logging.getLogger(__name__)

#: Between ``</think>`` and ``<answer>`` (reference: one space).
THINK_ANSWER_SEP = " "
#: Ends the label sentence (the reference's ".\n"); the retrieval sentence follows directly.
LABEL_END = ".\n"

#: Label-sentence prefix per dataset (``DatasetSpec.label_sentence``); the sentence is
#: prefix + label + LABEL_END.
LABEL_SENTENCE = spec_field("label_sentence")
#: Retrieval-sentence prefix per dataset (``DatasetSpec.retrieval_sentence``); the sentence is
#: prefix + repr(list of support texts).
RETRIEVAL_SENTENCE = spec_field("retrieval_sentence")
#: How the gold answer is written per dataset (``DatasetSpec.answer_format``): CoTemp the list
#: repr of the whole gold list, bAbI/MARCO the bare first answer (PAPER_NOTES 2.1-2.3).
ANSWER_FORMATS = spec_field("answer_format")


def answer_text(problem: Problem) -> str:
    """The gold answer as written in every target (and expected inside ``<answer>``).

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="train", question="Q?",
    ...             context=["A works for B.", "A works for C."], answers=["B", "C"],
    ...             label="mix", support=[0, 1])
    >>> answer_text(p)
    "['B', 'C']"
    """
    return ANSWER_FORMATS[problem.dataset](problem)


@dataclass(frozen=True)
class RenderedTarget:
    """An assistant target and the ``[start, end)`` spans of its trace and answer."""

    text: str
    trace_span: tuple[int, int] | None
    answer_span: tuple[int, int]


@dataclass(frozen=True)
class TraceTemplate:
    """Renders ``(problem, label, support_texts)`` into an assistant target with spans.

    Parameters
    ----------
    name : str
        Registry name.
    label_sentence, retrieval_sentence : mapping of str to str
        Sentence prefixes per dataset (see the module constants).
    label_end : str
        Text after the label.

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="train", question="Q?",
    ...             context=["A works for B.", "A works for C."], answers=["B"],
    ...             label="equal", support=[0])
    >>> t = TRACE_TEMPLATES.get("reference").render(p, "equal", ["A works for B."])
    >>> print(t.text)
    <think>The temporal relation between the event in question and the event in context is: equal.
    I need to use the following facts to answer the question: ['A works for B.']</think> <answer>['B']</answer>
    >>> t.text[slice(*t.answer_span)]
    "<answer>['B']</answer>"
    >>> TRACE_TEMPLATES.get("reference").render(p, None, None).text
    "['B']"
    """  # noqa: E501

    name: str
    label_sentence: Mapping[str, str]
    retrieval_sentence: Mapping[str, str]
    label_end: str = LABEL_END

    def label_text(self, dataset: str, label: str) -> str:
        """The label sentence (with its trailing ``label_end``)."""
        return f"{self.label_sentence[dataset]}{label}{self.label_end}"

    def retrieval_text(self, dataset: str, support_texts: Sequence[str]) -> str:
        """The retrieval sentence (support texts as a Python list repr)."""
        return f"{self.retrieval_sentence[dataset]}{list(support_texts)!r}"

    def render(
        self, problem: Problem, label: str | None, support_texts: Sequence[str] | None
    ) -> RenderedTarget:
        """The assistant target; with neither label nor support, the bare answer (kind none)."""
        answer = answer_text(problem)
        if label is None and support_texts is None:
            return RenderedTarget(answer, None, (0, len(answer)))
        think = THINK_OPEN
        if label is not None:
            think += self.label_text(problem.dataset, label)
        if support_texts is not None:
            think += self.retrieval_text(problem.dataset, support_texts)
        think += THINK_CLOSE
        start = len(think) + len(THINK_ANSWER_SEP)
        text = f"{think}{THINK_ANSWER_SEP}{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"
        return RenderedTarget(text, (0, len(think)), (start, len(text)))


TRACE_TEMPLATES.add("reference", TraceTemplate("reference", LABEL_SENTENCE, RETRIEVAL_SENTENCE))


# --------------------------------------------------------------------------- SFT kinds


@dataclass(frozen=True)
class SftKind:
    """An SFT condition: what the trace of each problem states.

    ``stated(problems, corruption, seed)`` returns one ``StatedTrace`` per problem, in order
    (batch-level because ``swap`` pairs problems with each other).
    """

    name: str
    needs_corruption: bool
    states_label: bool
    states_support: bool
    stated: Callable[[Sequence[Problem], str | None, int], list[StatedTrace]]


def _none(problems: Sequence[Problem], corruption: str | None, seed: int) -> list[StatedTrace]:
    return [StatedTrace(None, None, None) for _ in problems]


def _label_only(problems, corruption, seed) -> list[StatedTrace]:
    return [StatedTrace(p.label, None, None) for p in problems]


def _correct(problems, corruption, seed) -> list[StatedTrace]:
    return [StatedTrace(p.label, list(p.support), p.support_text) for p in problems]


def _incorrect(problems, corruption, seed) -> list[StatedTrace]:
    return list(corrupt_all(problems, corruption or "both", seed=seed))


for _kind in (
    SftKind("none", False, False, False, _none),
    SftKind("label_only", False, True, False, _label_only),
    SftKind("correct", False, True, True, _correct),
    SftKind("incorrect", True, True, True, _incorrect),
):
    SFT_KINDS.add(_kind.name, _kind)


def build_sft_examples(
    problems: Sequence[Problem],
    kind: str,
    *,
    corruption: str | None = None,
    template: str = "reference",
    seed: int = 0,
    system: str = "neutral",
) -> list[dict[str, Any]]:
    """SFT records for ``problems`` under SFT kind ``kind`` (validated, same order as input).

    Parameters
    ----------
    problems : sequence of Problem
        Validated problems with unique ids.
    kind : str
        ``none``, ``label_only``, ``correct`` or ``incorrect`` (``registry.SFT_KINDS``).
    corruption : str or None
        Corruption for ``incorrect`` (``registry.CORRUPTIONS``; default ``both``). Must be None
        for the other kinds.
    template : str, default="reference"
        Trace template (``registry.TRACE_TEMPLATES``).
    seed : int, default=0
        Corruption seed (each problem draws from ``derive_rng(seed, "corrupt", name, id)``).
    system : str, default="neutral"
        System message name (``prompts.SYSTEM_PROMPTS``).

    Returns
    -------
    list of dict
        Records ``{"id", "kind", "corruption", "messages", "spans", "trace"}``.

    Raises
    ------
    UnknownNameError
        Unknown kind, template or corruption.
    ConfigError
        A corruption given for a kind that does not use one.
    RecordError, TraceFormatError
        Duplicate ids, or a produced record breaks the contract (a bug).

    Examples
    --------
    >>> p = Problem(id="b1", dataset="babi", split="train", question="Where is Mary?",
    ...             context=["Mary went to the hallway.", "John moved to the garden."],
    ...             answers=["hallway"], label="single-supporting-fact", support=[0])
    >>> r = build_sft_examples([p], "correct")[0]
    >>> r["messages"][2]["content"][slice(*r["spans"]["answer"])]
    '<answer>hallway</answer>'
    >>> build_sft_examples([p], "none")[0]["messages"][2]["content"]
    'hallway'
    """
    spec: SftKind = SFT_KINDS.get(kind)
    tpl: TraceTemplate = TRACE_TEMPLATES.get(template)
    if corruption is not None and not spec.needs_corruption:
        raise ConfigError(
            f"corruption {corruption!r} given for SFT kind {kind!r}, which does not corrupt; "
            "drop the corruption or use kind 'incorrect'."
        )
    if spec.needs_corruption and corruption is None:
        corruption = "both"
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise RecordError(
                file=None,
                line=None,
                field="id",
                value=p.id,
                fix="Problem ids must be unique within one SFT set.",
            )
        seen.add(p.id)
    stated = spec.stated(problems, corruption, seed)
    out = []
    for p, st in tqdm(
        list(zip(problems, stated, strict=True)), desc=f"sft:{kind}", disable=None, leave=False
    ):
        target = tpl.render(p, st.label, st.support_text)
        record = {
            "id": p.id,
            "kind": kind,
            "corruption": corruption,
            "messages": [
                *prompt_messages(p, system=system),
                {"role": "assistant", "content": target.text},
            ],
            "spans": {
                "trace": list(target.trace_span) if target.trace_span else None,
                "answer": list(target.answer_span),
            },
            "trace": st.to_dict(),
        }
        out.append(validate_sft(record, problem=p))
    log.info(
        "built %d SFT examples (kind=%s, corruption=%s, template=%s, seed=%d)",
        len(out),
        kind,
        corruption,
        template,
        seed,
    )
    return out
