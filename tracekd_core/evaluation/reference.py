"""The reference implementation's scorers, quirks included (reference-compatible mode only).

Paper section 6 as *implemented* by the authors' code (``../shared/reference/
SCORING_AS_IMPLEMENTED.md`` and PAPER_NOTES 6.2). These rules exist to reproduce the published
numbers exactly; several are flaws that the strict scorers of ``score.py`` fix:

* the answer span is cut from the lower-cased raw text even without an ``<answer>`` tag, and every
  "assistant"/"think" substring is deleted;
* CoTemp candidates come from the facts with the entity slot **reversed** (subject slot unless the
  question type is ``S2_R1_O1``), so extra wrong entities of the asked role are ignored;
* the first candidate also found in the question is silently removed (it can swallow a gold);
* trace scoring looks the gold row up by answer substring, finds the label in the first sentence
  and counts the retrieval step correct if *any* context fact appears verbatim.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_right
from collections import Counter
from functools import lru_cache

from ..records import Problem

_PUNCT = str.maketrans("", "", string.punctuation)

#: (keyword, relation) in the fixed order the reference checks them (case-sensitive).
KEYWORDS: tuple[tuple[str, str], ...] = (
    (" the position of ", "P39"),
    (" a member of ", "P102"),
    (" the chair of ", "P488"),
    (" the head of ", "P6"),
    (" owned by ", "P127"),
    ("attend", "P69"),
    ("work", "P108"),
    ("play", "P54"),
)
VERBS: dict[str, str] = {
    "P39": "holds the position of",
    "P102": "is a member of the",
    "P69": "attended",
    "P108": "works for",
    "P54": "plays for",
    "P488": "is the chair of",
    "P6": "is the head of",
    "P127": "is owned by",
}
_TENSE = (
    (" was ", " is "),
    (" held ", " holds "),
    (" worked ", " works "),
    (" played ", " plays "),
)


def _templates(rel: str) -> tuple[re.Pattern[str], ...]:
    v = re.escape(VERBS[rel])
    shapes = [
        rf"(.*?) {v} (.*?) from (.*?) to (.*?)\.",
        rf"(.*?) {v} (.*?) in (.*?)\.",
        rf"(.*?) {v} (.*?) from (.*?)",
    ]
    shapes += [rf"(.*?) {v} (.*?) in (.*?)\."] if rel == "P39" else [rf"(.*?) {v} (.*?)\."]
    return tuple(re.compile(s) for s in shapes)


TEMPLATES: dict[str, tuple[re.Pattern[str], ...]] = {rel: _templates(rel) for rel in VERBS}


def normalize_reference(text: str) -> str:
    """Lower-case, delete ASCII punctuation (no space), collapse whitespace.

    Examples
    --------
    >>> normalize_reference("  Sevilla F.C.  Club ")
    'sevilla fc club'
    """
    return " ".join(text.lower().translate(_PUNCT).split())


def answer_span(prediction: str) -> str:
    """Step 1 of the reference scorer: cut the answer span and delete "assistant"/"think".

    Examples
    --------
    >>> answer_span("assistant\\n\\n<think>x</think> <answer>['Really']</answer>")
    "['really']"
    >>> answer_span("I think the answer is Bob")
    'is bob'
    """
    p = prediction.lower()
    if "<answer>" in p:
        s = p.split("<answer>")[1]
        if "</answer>" in s:
            s = s.split("</answer>")[0]
    elif "answer the question based on" in p:
        s = p.split("answer the question based on")[0]
    elif " answer " in p:
        s = p.split(" answer ")[1]
    elif "answer:" in p:
        s = p.split("answer:")[1]
    else:
        s = p
    return s.replace("assistant", "").replace("think", "")


@lru_cache(maxsize=200_000)
def fact_entity(fact: str, slot: str) -> str | None:
    """The entity of ``slot`` ("subject"/"object") in one CoTemp fact, lower-cased, or None.

    Examples
    --------
    >>> fact_entity("Really is owned by Discovery Inc. from 2019 to 2022.", "subject")
    'really'
    >>> fact_entity("Ann held the position of mayor in 2001.", "object")
    'mayor'
    """
    for keyword, rel in KEYWORDS:
        if keyword not in fact:
            continue
        for old, new in _TENSE:
            fact = fact.replace(old, new)
        for pattern in TEMPLATES[rel]:
            m = pattern.match(fact)
            if m:
                return (m.group(1) if slot == "subject" else m.group(2)).lower()
    return None


def reference_slot(triple_element: str) -> str:
    """The slot the reference scorer uses (reversed w.r.t. the question type: a quirk)."""
    return "object" if "S2_R1_O1" in triple_element else "subject"


def asked_slot(triple_element: str) -> str:
    """The slot the question actually asks for (S2_R1_O1 asks for the person)."""
    return "subject" if "S2_R1_O1" in triple_element else "object"


def candidates(facts: list[str], golds: list[str], slot: str) -> list[str]:
    """Entities of ``slot`` in the facts plus the lower-cased golds, longest first."""
    found = {e for f in facts if (e := fact_entity(f, slot)) is not None}
    found.update(g.lower() for g in golds)
    return sorted(found, key=len, reverse=True)


def set_match(pred: list[str], gold: list[str]) -> tuple[bool, float, float, float]:
    """Reference step 5: (correct, f1, p, r) of de-duplicated, normalised, sorted lists.

    Examples
    --------
    >>> set_match(["Bob", "bob."], ["BOB"])
    (False, 0.6666666666666666, 0.5, 1.0)
    """
    p = sorted(normalize_reference(x) for x in set(pred))
    g = sorted(normalize_reference(x) for x in set(gold))
    overlap = sum((Counter(p) & Counter(g)).values())
    if overlap == 0:
        return p == g, 0.0, 0.0, 0.0
    prec, rec = overlap / len(p), overlap / len(g)
    return p == g, 2 * prec * rec / (prec + rec), prec, rec


def cotemp_answer(prediction: str, problem: Problem, *, intended_slot: bool = False) -> dict:
    """The reference CoTemp answer scorer (mode "default") on one raw prediction.

    ``intended_slot=True`` swaps the reversed slot for the one the question asks for (an ablation
    of one quirk; the published numbers need the default).

    Examples
    --------
    >>> p = Problem(id="a", dataset="cotemp", split="test", label="equal", support=[0],
    ...     question="While Ann was holding the position of mayor, which position did Ann hold?",
    ...     context=["Ann holds the position of mayor from 2001 to 2003.",
    ...              "Ann holds the position of judge from 2001 to 2002."],
    ...     answers=["judge"], meta={"triple_element": "S1_R1_O2"})
    >>> cotemp_answer("<answer>['judge', 'mayor', 'pilot']</answer>", p)["correct"]  # lenient
    True
    >>> cotemp_answer("<answer>['mayor']</answer>", p)["correct"]
    False
    """
    span = answer_span(prediction)
    golds = [g.lower() for g in problem.answers]
    triple = str(problem.meta.get("triple_element", ""))
    slot = asked_slot(triple) if intended_slot else reference_slot(triple)
    question = problem.question.lower()
    removed = False
    pred: list[str] = []
    for cand in candidates(problem.context, golds, slot):
        if cand in span and cand in question and not removed:
            span = span.replace(cand, "")
            removed = True
        elif cand in span:
            pred.append(cand)
            span = span.replace(cand, "")
    if not pred:
        pred = [span]
    ok, f1, p, r = set_match(pred, golds)
    return {"correct": ok, "f1": f1, "precision": p, "recall": r, "predicted": pred}


def exact_answer(prediction: str, problem: Problem) -> dict:
    """The reference bAbI/MARCO scorer: gold substring of the span and normalised equality.

    For MARCO the normalised span must equal the normalised *set* of golds (PAPER_NOTES 6.1; no
    as-implemented spec exists for MARCO, so this follows the described intent literally).

    Examples
    --------
    >>> p = Problem(id="b", dataset="babi", split="test", question="Where?", context=["x"],
    ...             answers=["kitchen"], label="counting", support=[0])
    >>> exact_answer("assistant\\n<answer>Kitchen.</answer>", p)["correct"]
    True
    """
    span = answer_span(prediction)
    golds = (
        [g.lower() for g in problem.answers[:1]]
        if problem.dataset == "babi"
        else [g.lower() for g in problem.answers]
    )
    hit = any(g in span for g in golds)
    gold_set = sorted({normalize_reference(g) for g in golds})
    ok = hit and [normalize_reference(span)] == gold_set
    return {
        "correct": ok,
        "f1": float(ok),
        "precision": float(ok),
        "recall": float(ok),
        "predicted": [span],
    }


def score_answers(problems: list[Problem], outputs: list[str | None]) -> list[dict]:
    """Reference answer scoring of a batch (``None`` output = missing = wrong)."""
    out = []
    for prob, text in zip(problems, outputs, strict=True):
        if text is None:
            out.append({"correct": False, "f1": 0.0, "precision": 0.0, "recall": 0.0})
            continue
        res = cotemp_answer(text, prob) if prob.dataset == "cotemp" else exact_answer(text, prob)
        res.pop("predicted")
        out.append(res)
    return out


def lookup_scope(problem: Problem) -> tuple[str, str]:
    """The rows the reference searches for an item's gold row (its "category CSV").

    CoTemp: one test file per relation, so the scope is (dataset, relation). bAbI and MARCO: one
    test file across all tasks / query types, so the scope is the whole dataset.

    Examples
    --------
    >>> p = Problem(id="b", dataset="babi", split="test", question="Where?", context=["x"],
    ...             answers=["kitchen"], label="counting", support=[0])
    >>> lookup_scope(p)
    ('babi', '')
    """
    return (problem.dataset, problem.label if problem.dataset == "cotemp" else "")


def score_traces(problems: list[Problem], outputs: list[str | None]) -> list[dict]:
    """Reference trace scoring (PAPER_NOTES 6.2) of a batch, in input order.

    The gold row is the first problem of the item's ``lookup_scope`` (the reference's test CSV:
    per relation for CoTemp, the whole file for bAbI and MARCO; here the scored problem list)
    whose answer list repr contains the item's first gold answer; when none does, the previously
    found row is reused (stale fallback, as in the reference). Unevaluated items (no "think", or
    an empty string before ``</think>``; whitespace is *not* stripped, as in the reference) get
    ``None``.
    """
    rows: dict[tuple[str, str], list[Problem]] = {}
    for p in problems:
        rows.setdefault(lookup_scope(p), []).append(p)
    # One joined text per scope: str.find gives the first row containing the gold (the
    # separator never occurs in a gold, so a hit never spans two rows).
    joined: dict[tuple[str, str], tuple[str, list[int]]] = {}
    for key, group in rows.items():
        starts, pos = [], 0
        for r in group:
            starts.append(pos)
            pos += len(repr(list(r.answers))) + 1
        joined[key] = ("\x00".join(repr(list(r.answers)) for r in group), starts)
    last: dict[tuple[str, str], Problem] = {}
    out = []
    for prob, text in zip(problems, outputs, strict=True):
        key = lookup_scope(prob)
        blob, starts = joined[key]
        hit = blob.find(prob.answers[0]) if "\x00" not in prob.answers[0] else -1
        gold_row = rows[key][bisect_right(starts, hit) - 1] if hit >= 0 else last.get(key, prob)
        last[key] = gold_row
        if text is None or "think" not in text or not text.split("</think>")[0]:
            out.append({"label_correct": None, "retrieval_correct": None, "trace_correct": None})
            continue
        trace = text.split("</think>")[0]
        if prob.dataset == "cotemp":
            label_ok = gold_row.label in trace.split(".")[0]
        else:
            segs = trace.lower().split(".")
            label_ok = len(segs) > 1 and gold_row.label.lower() in segs[1]
        ir_ok = any(f in trace for f in gold_row.context)
        out.append(
            {
                "label_correct": label_ok,
                "retrieval_correct": ir_ok,
                "trace_correct": label_ok and ir_ok,
            }
        )
    return out
