"""The strict scorers: what the answer and trace metrics should mean (paper section 6).

Registered as mode ``strict`` (the default) by ``score.py``, side by side with the authors' rules
in ``evaluation/reference.py``; ``docs/scoring.md`` explains each choice.

Answer
    CoTemp: the entity set stated in the answer (entities of the role the question asks for,
    extras count against, no answer = wrong) must equal the gold set; bAbI: normalised exact
    match; MARCO: normalised exact match, plus token F1 and ROUGE-L everywhere.
Trace
    The label step is correct iff the stated label is the item's gold label; the retrieval step
    is scored by precision/recall/exact-set match of the stated items against the item's gold
    support.
"""

from __future__ import annotations

from collections import Counter

from ..datasets.cotemp import anchor_index
from ..records import Problem
from ..text import normalize_text
from . import reference as ref
from .parse import ParsedOutput


def token_prf(pred: str, gold: str) -> tuple[float, float, float]:
    """Token precision, recall, F1 of normalised bags of words.

    Examples
    --------
    >>> token_prf("green apple", "apple")
    (0.5, 1.0, 0.6666666666666666)
    """
    p, g = normalize_text(pred).split(), normalize_text(gold).split()
    if not p or not g:
        same = float(p == g)
        return same, same, same
    overlap = sum((Counter(p) & Counter(g)).values())
    if overlap == 0:
        return 0.0, 0.0, 0.0
    prec, rec = overlap / len(p), overlap / len(g)
    return prec, rec, 2 * prec * rec / (prec + rec)


def rouge_l(pred: str, gold: str) -> float:
    """ROUGE-L F1 (beta 1, no stemming) on normalised tokens.

    Examples
    --------
    >>> rouge_l("green apple pie", "apple pie")
    0.8
    """
    p, g = normalize_text(pred).split(), normalize_text(gold).split()
    if not p or not g:
        return float(p == g)
    prev = [0] * (len(g) + 1)
    for tp in p:
        cur = [0]
        for j, tg in enumerate(g):
            cur.append(prev[j] + 1 if tp == tg else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    prec, rec = lcs / len(p), lcs / len(g)
    return 2 * prec * rec / (prec + rec)


def cotemp_entities(items: list[str], problem: Problem) -> set[str]:
    """Normalised entity set stated by answer items, in the role the question asks for.

    An item that is itself a candidate (an entity of the asked role in the facts, or a gold) is
    that entity; a longer item (a sentence) yields every candidate it contains on word boundaries
    -- except non-gold entities restated from the question -- or, if none, the item itself (an
    unrecognised answer, which counts against).

    Examples
    --------
    >>> p = Problem(id="a", dataset="cotemp", split="test", label="equal", support=[1],
    ...     question="While Ann was holding the position of mayor, which position did Ann hold?",
    ...     context=["Ann holds the position of mayor from 2001 to 2003.",
    ...              "Ann holds the position of judge from 2001 to 2002."],
    ...     answers=["judge"], meta={"triple_element": "S1_R1_O2"})
    >>> sorted(cotemp_entities(["judge", "mayor"], p))
    ['judge', 'mayor']
    >>> sorted(cotemp_entities(["While Ann was mayor she was the judge."], p))
    ['judge']
    """
    slot = ref.asked_slot(str(problem.meta.get("triple_element", "")))
    golds = {normalize_text(g) for g in problem.answers}
    cands = {normalize_text(e) for f in problem.context if (e := ref.fact_entity(f, slot))}
    cands = sorted((cands | golds) - {""}, key=len, reverse=True)
    question = f" {normalize_text(problem.question)} "
    out: set[str] = set()
    for item in items:
        n = normalize_text(item)
        if not n:
            continue
        if n in cands:
            out.add(n)
            continue
        rest, found = f" {n} ", set()
        for c in cands:
            if f" {c} " in rest:
                rest = rest.replace(f" {c} ", " | ")
                if c in golds or f" {c} " not in question:
                    found.add(c)
        out |= found or {n}
    return out


def _answer_text(parsed: ParsedOutput) -> str:
    items = parsed.answer_items or []
    return " ".join(items) if items else (parsed.answer or "")


def _answer(problem: Problem, parsed: ParsedOutput | None) -> dict:
    miss = {
        "correct": False,
        "f1": 0.0,
        "precision": 0.0,
        "recall": 0.0,
        "token_f1": 0.0,
        "rouge_l": 0.0,
    }
    if parsed is None or parsed.answer is None:
        return miss
    text = _answer_text(parsed)
    if problem.dataset == "cotemp":
        pred = cotemp_entities(parsed.answer_items or [parsed.answer], problem)
        gold = {normalize_text(g) for g in problem.answers}
        inter = len(pred & gold)
        p = inter / len(pred) if pred else 0.0
        r = inter / len(gold)
        res = {
            "correct": pred == gold,
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / (p + r) if inter else 0.0,
        }
        golds_tok = [" ".join(problem.answers)]
    else:
        cands = {normalize_text(parsed.answer), normalize_text(text)}
        ok = any(normalize_text(g) in cands for g in problem.answers)
        res = {"correct": ok, "f1": float(ok), "precision": float(ok), "recall": float(ok)}
        golds_tok = problem.answers
    best = max((token_prf(text, g) for g in golds_tok), key=lambda prf: prf[2])
    res["token_f1"] = best[2]
    res["rouge_l"] = max(rouge_l(text, g) for g in golds_tok)
    if problem.dataset == "marco":  # free-form answers: F1/P/R are the token-level ones
        res["precision"], res["recall"], res["f1"] = best
    return res


def split_retrieval(problem: Problem, parsed: ParsedOutput | None) -> dict:
    """The retrieval step split in two (issue 9): the anchor and the answer-bearing facts.

    ``anchor_correct``: the trace states the question's anchor fact (``None`` without a trace,
    a retrieval sentence or an anchor). ``answer_facts_correct``: the stated facts other than
    the anchor equal the gold support (the answer-bearing facts): the part of retrieval that is
    nearly "picked the answer".

    Examples
    --------
    >>> p = Problem(id="a", dataset="cotemp", split="test", label="equal", support=[1],
    ...     question="While Ann worked for Acme, which school did Ann attend?",
    ...     context=["Ann works for Acme from 2001 to 2003.", "Ann attended Uni in 2002."],
    ...     answers=["Uni"], meta={"triple_element": "S1_R2_O2", "anchor": 0})
    >>> po = ParsedOutput("t", "equal", list(p.context), "Uni", ["Uni"], "ok")
    >>> split_retrieval(p, po)
    {'anchor_correct': True, 'answer_facts_correct': True}
    """
    if parsed is None or parsed.trace is None or parsed.retrieval_step is None:
        return {"anchor_correct": None, "answer_facts_correct": None}
    k = anchor_index(problem)
    anchor = normalize_text(problem.context[k]) if k is not None else None
    gold = {normalize_text(t) for t in problem.support_text} - {anchor}
    stated = {normalize_text(t) for t in parsed.retrieval_step} - {""}
    return {
        "anchor_correct": None if anchor is None else anchor in stated,
        "answer_facts_correct": (stated - {anchor}) == gold,
    }


def _trace(problem: Problem, parsed: ParsedOutput | None) -> dict:
    if parsed is None or parsed.trace is None:
        return {
            "label_correct": None,
            "retrieval_correct": None,
            "trace_correct": None,
            "retrieval_precision": None,
            "retrieval_recall": None,
        }
    label_ok = parsed.label_step == problem.label
    gold = {normalize_text(t) for t in problem.support_text}
    stated = {normalize_text(t) for t in parsed.retrieval_step or []} - {""}
    inter = len(stated & gold)
    ir_ok = stated == gold
    return {
        "label_correct": label_ok,
        "retrieval_correct": ir_ok,
        "trace_correct": label_ok and ir_ok,
        "retrieval_precision": inter / len(stated) if stated else 0.0,
        "retrieval_recall": inter / len(gold) if gold else 0.0,
    }


def score_answers(problems: list[Problem], parsed: list[ParsedOutput | None]) -> list[dict]:
    """Strict answer scores of a batch, in input order (``None`` parse = missing = wrong).

    Parameters
    ----------
    problems : list of Problem
        The scored problems.
    parsed : list of ParsedOutput or None
        One parsed output per problem (``parse.parse_output``).

    Returns
    -------
    list of dict
        ``{"correct", "f1", "precision", "recall", "token_f1", "rouge_l"}`` per problem.

    Examples
    --------
    >>> from .parse import parse_output
    >>> p = Problem(id="q1", dataset="babi", split="test", question="Where is Bob?",
    ...             context=["Bob went to the kitchen."], answers=["kitchen"],
    ...             label="single-supporting-fact", support=[0])
    >>> [s["correct"] for s in score_answers([p, p], [parse_output("The kitchen.", "babi"), None])]
    [True, False]
    """
    return [_answer(p, x) for p, x in zip(problems, parsed, strict=True)]


def score_traces(problems: list[Problem], parsed: list[ParsedOutput | None]) -> list[dict]:
    """Strict per-item trace scores against each item's own gold label and support.

    Parameters
    ----------
    problems : list of Problem
        The scored problems.
    parsed : list of ParsedOutput or None
        One parsed output per problem (``parse.parse_output``).

    Returns
    -------
    list of dict
        ``{"label_correct", "retrieval_correct", "trace_correct", "retrieval_precision",
        "retrieval_recall"}`` per problem; all ``None`` when there is no trace.

    Examples
    --------
    >>> from .parse import parse_output
    >>> p = Problem(id="q1", dataset="babi", split="test", question="Where is Bob?",
    ...             context=["Bob went to the kitchen."], answers=["kitchen"],
    ...             label="single-supporting-fact", support=[0])
    >>> out = ("<think>The category of the question represents what is being asked in that "
    ...        "question. The category of the question asked is: counting.\\nI need to use the"
    ...        " following text to answer the question: ['Bob went to the kitchen.']</think>"
    ...        " <answer>kitchen</answer>")
    >>> s = score_traces([p], [parse_output(out, "babi")])[0]
    >>> s["label_correct"], s["retrieval_correct"], s["trace_correct"]
    (False, True, False)
    """
    return [_trace(p, x) for p, x in zip(problems, parsed, strict=True)]
