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
``RETRIEVAL_SENTENCE[dataset] + repr(support_texts)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .errors import ConfigError, RecordError, TraceFormatError
from .prompts import prompt_messages, user_prompt
from .records import Problem, iter_jsonl
from .registry import CORRUPTIONS, SFT_KINDS, TRACE_TEMPLATES

log = logging.getLogger(__name__)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
#: Between ``</think>`` and ``<answer>`` (reference: one space).
THINK_ANSWER_SEP = " "
#: Ends the label sentence (the reference's ".\n"); the retrieval sentence follows directly.
LABEL_END = ".\n"

_CATEGORY = (
    "The category of the question represents what is being asked in that question. "
    "The category of the question asked is: "
)
#: Label-sentence prefix per dataset; the sentence is prefix + label + LABEL_END.
LABEL_SENTENCE: dict[str, str] = {
    "cotemp": "The temporal relation between the event in question and the event in context is: ",
    "babi": _CATEGORY,
    "marco": _CATEGORY,
}
#: Retrieval-sentence prefix per dataset; the sentence is prefix + repr(list of support texts).
RETRIEVAL_SENTENCE: dict[str, str] = {
    "cotemp": "I need to use the following facts to answer the question: ",
    "babi": "I need to use the following text to answer the question: ",
    "marco": "I need to use the following text to answer the question: ",
}

#: How the gold answer is written per dataset: CoTemp the list repr of the whole gold list,
#: bAbI/MARCO the bare first answer (PAPER_NOTES 2.1-2.3).
ANSWER_FORMATS: dict[str, Callable[[Problem], str]] = {
    "cotemp": lambda p: repr(list(p.answers)),
    "babi": lambda p: p.answers[0],
    "marco": lambda p: p.answers[0],
}


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


TRACE_TEMPLATES.add(
    "reference", TraceTemplate("reference", LABEL_SENTENCE, RETRIEVAL_SENTENCE)
)


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
    from .corrupt import corrupt_all  # corrupt imports this module

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
            raise RecordError(file=None, line=None, field="id", value=p.id,
                              fix="Problem ids must be unique within one SFT set.")
        seen.add(p.id)
    stated = spec.stated(problems, corruption, seed)
    out = []
    for p, st in tqdm(list(zip(problems, stated, strict=True)), desc=f"sft:{kind}",
                      disable=None, leave=False):
        target = tpl.render(p, st.label, st.support_text)
        record = {
            "id": p.id,
            "kind": kind,
            "corruption": corruption,
            "messages": [*prompt_messages(p, system=system),
                         {"role": "assistant", "content": target.text}],
            "spans": {
                "trace": list(target.trace_span) if target.trace_span else None,
                "answer": list(target.answer_span),
            },
            "trace": st.to_dict(),
        }
        out.append(validate_sft(record, problem=p))
    log.info("built %d SFT examples (kind=%s, corruption=%s, template=%s, seed=%d)",
             len(out), kind, corruption, template, seed)
    return out


# --------------------------------------------------------------------------- the record contract

SFT_KEYS = ("id", "kind", "corruption", "messages", "spans", "trace")
TRACE_KEYS = ("label", "support", "support_text", "swapped_from")
ROLES = ("system", "user", "assistant")


def _is_str_list(x: object) -> bool:
    return isinstance(x, list) and all(isinstance(s, str) for s in x)


def _is_int_list(x: object) -> bool:
    return isinstance(x, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in x)


def validate_sft(
    record: dict[str, Any],
    *,
    problem: Problem | None = None,
    file: str | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    """Check an SFT record against the contract; return it unchanged.

    Checks the keys, kind/corruption pairing, the ``[system, user, assistant]`` messages, that
    the spans are in range, non-empty, ordered and non-overlapping and cover ``<think>..</think>``
    and ``<answer>..</answer>`` (the whole bare answer for kind ``none``), and that the ``trace``
    fields match what the kind states. With ``problem``: the id and user turn match, the answer
    span holds the gold answer, a ``correct`` trace states the gold and an ``incorrect`` trace is
    verifiably wrong at every corrupted step.

    Raises
    ------
    RecordError
        A missing/unknown/mistyped field (names file, line, field, value and the fix).
    TraceFormatError
        Spans or stated trace inconsistent with the assistant text or the problem.

    Examples
    --------
    >>> rec = {"id": "x", "kind": "none", "corruption": None,
    ...        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
    ...                     {"role": "assistant", "content": "green"}],
    ...        "spans": {"trace": None, "answer": [0, 5]},
    ...        "trace": {"label": None, "support": None, "support_text": None,
    ...                  "swapped_from": None}}
    >>> validate_sft(rec) is rec
    True
    >>> rec["spans"]["answer"] = [0, 9]
    >>> validate_sft(rec)
    Traceback (most recent call last):
    ...
    tracekd_core.errors.RecordError: <memory>: field 'spans.answer' has bad value [0, 9]. ...
    """
    def bad(fld: str, value: object, fix: str) -> RecordError:
        return RecordError(file=file, line=line, field=fld, value=value, fix=fix)

    def fmt(msg: str) -> TraceFormatError:
        where = (file or "<memory>") + (f", line {line}" if line is not None else "")
        return TraceFormatError(f"{where}: SFT record {record.get('id')!r}: {msg}")

    if not isinstance(record, dict):
        raise bad("<record>", record, "Each SFT line must be one JSON object.")
    for key in SFT_KEYS:
        if key not in record:
            raise bad(key, None, f"Add the missing field; an SFT record needs {SFT_KEYS}.")
    extra = sorted(set(record) - set(SFT_KEYS))
    if extra:
        raise bad(extra[0], record[extra[0]], f"Unknown field; an SFT record has {SFT_KEYS}.")
    if not isinstance(record["id"], str) or not record["id"]:
        raise bad("id", record["id"], "Use the problem's non-empty string id.")
    kind, corr = record["kind"], record["corruption"]
    if kind not in SFT_KINDS:
        raise bad("kind", kind, f"Use one of {SFT_KINDS.names()}.")
    spec: SftKind = SFT_KINDS.get(kind)
    if spec.needs_corruption and corr not in CORRUPTIONS:
        raise bad("corruption", corr, f"Kind {kind!r} needs one of {CORRUPTIONS.names()}.")
    if not spec.needs_corruption and corr is not None:
        raise bad("corruption", corr, f"Kind {kind!r} corrupts nothing; set it to null.")
    msgs = record["messages"]
    if (not isinstance(msgs, list) or len(msgs) != 3
            or any(not isinstance(m, dict) for m in msgs)
            or tuple(m.get("role") for m in msgs) != ROLES
            or any(not isinstance(m.get("content"), str) or not m["content"] for m in msgs)):
        raise bad("messages", msgs, "Give [system, user, assistant] dicts with non-empty "
                  "string 'content' (build them with decompose.build_sft_examples).")
    content = msgs[2]["content"]
    spans = record["spans"]
    if not isinstance(spans, dict) or set(spans) != {"trace", "answer"}:
        raise bad("spans", spans, "Give {'trace': [start, end] | null, 'answer': [start, end]}.")

    def span(name: str) -> tuple[int, int]:
        v = spans[name]
        if not (_is_int_list(v) and len(v) == 2 and 0 <= v[0] < v[1] <= len(content)):
            raise bad(f"spans.{name}", v, f"Give a non-empty [start, end) with 0 <= start < end"
                      f" <= {len(content)} (the assistant content length).")
        return v[0], v[1]

    a0, a1 = span("answer")
    answer = content[a0:a1]
    trace = record["trace"]
    if not isinstance(trace, dict) or set(trace) != set(TRACE_KEYS):
        raise bad("trace", trace, f"Give a dict with exactly the keys {TRACE_KEYS}.")
    label, support, stext = trace["label"], trace["support"], trace["support_text"]
    if label is not None and not isinstance(label, str):
        raise bad("trace.label", label, "Give the stated label as a string or null.")
    if support is not None and not _is_int_list(support):
        raise bad("trace.support", support, "Give 0-based context indices or null.")
    if stext is not None and not _is_str_list(stext):
        raise bad("trace.support_text", stext, "Give the stated support texts or null.")
    if trace["swapped_from"] is not None and not isinstance(trace["swapped_from"], str):
        raise bad("trace.swapped_from", trace["swapped_from"], "Give the donor id or null.")
    if (label is not None) != spec.states_label or (stext is not None) != spec.states_support:
        raise fmt(f"kind {kind!r} states label={spec.states_label}, support="
                  f"{spec.states_support}, but the trace field is {trace!r}.")

    if spans["trace"] is None:
        if spec.states_label or spec.states_support:
            raise bad("spans.trace", None, f"Kind {kind!r} has a trace; give its span.")
        if (a0, a1) != (0, len(content)):
            raise fmt(f"kind {kind!r}: the answer span {[a0, a1]} must cover the whole "
                      f"assistant content (length {len(content)}).")
    else:
        t0, t1 = span("trace")
        think = content[t0:t1]
        if t1 > a0:
            raise fmt(f"trace span {[t0, t1]} overlaps or follows answer span {[a0, a1]}.")
        if not (think.startswith(THINK_OPEN) and think.endswith(THINK_CLOSE)):
            raise fmt(f"trace span text {think[:40]!r}...{think[-20:]!r} must start with "
                      f"{THINK_OPEN!r} and end with {THINK_CLOSE!r}.")
        if not (answer.startswith(ANSWER_OPEN) and answer.endswith(ANSWER_CLOSE)):
            raise fmt(f"answer span text {answer!r} must be {ANSWER_OPEN}..{ANSWER_CLOSE}.")
        if label is not None and label not in think:
            raise fmt(f"stated label {label!r} does not occur in the trace text {think!r}.")
        if stext is not None and repr(stext) not in think:
            raise fmt(f"stated support {stext!r} does not occur (as a list repr) in {think!r}.")

    if problem is not None:
        if problem.id != record["id"]:
            raise bad("id", record["id"], f"Record belongs to problem {problem.id!r}.")
        gold = problem.answers[0]
        if gold not in answer and repr(gold)[1:-1] not in answer:
            raise fmt(f"answer span {answer!r} does not contain the gold answer {gold!r}.")
        if msgs[1]["content"] != user_prompt(problem):
            raise fmt("user turn differs from prompts.user_prompt(problem); train and "
                      "inference must share one template.")
        if support is not None and any(not 0 <= i < len(problem.context) for i in support):
            raise bad("trace.support", support, f"Indices must be < {len(problem.context)}.")
        if support is not None and stext != [problem.context[i] for i in support]:
            raise fmt(f"support_text {stext!r} is not the context items {support!r}.")
        if kind == "correct" and (label, support) != gold_trace(problem):
            raise fmt(f"a correct trace must state the gold ({problem.label!r}, "
                      f"{problem.support!r}), got ({label!r}, {support!r}).")
        if spec.needs_corruption:
            from .corrupt import check_corrupted

            check_corrupted(problem, StatedTrace(label, support, stext, trace["swapped_from"]),
                            corr)
    return record


def read_sft(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate an ``sft.jsonl`` file (ids must be unique).

    Raises
    ------
    RecordError, TraceFormatError
        Naming the file and line of the first bad record.
    """
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, obj in iter_jsonl(path):
        rec = validate_sft(obj, file=str(path), line=n)
        if rec["id"] in seen:
            raise RecordError(file=str(path), line=n, field="id", value=rec["id"],
                              fix=f"Ids must be unique; first used on line {seen[rec['id']]}.")
        seen[rec["id"]] = n
        out.append(rec)
    return out
