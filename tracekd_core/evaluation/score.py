"""Decoupled scoring: the answer and each trace step scored separately, per item and in summary.

Paper section 6. Two named modes of each scorer are always computed side by side and registered
here in ``registry.ANSWER_SCORERS`` / ``registry.TRACE_SCORERS``:

``strict`` (default, what the metric should mean)
    ``evaluation/strict.py``: CoTemp answers as entity sets of the asked role, bAbI/MARCO normalised
    exact match (plus token F1 and ROUGE-L everywhere); the trace steps against each item's own
    gold label and gold support.
``reference``
    The authors' code as implemented, quirks included (``evaluation/reference.py``); exists to
    reproduce the published numbers.

This module reads predictions, runs every mode (``score_items``), aggregates them with n and
95% CIs (``summarize``) and writes a scored run (``score_run``). ``docs/scoring.md`` describes
every field of ``items.jsonl`` and ``summary.json``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import RecordError
from ..records import Problem, read_problems, read_unique_jsonl, write_jsonl
from ..registry import ANSWER_SCORERS, TRACE_SCORERS
from ..runio import atomic_write_json, file_sha256, package_version
from . import reference as ref
from . import strict
from .consistency import consistency
from .parse import ParsedOutput, parse_output
from .stats import STEPS, chi2_2x2, conditional_accuracy, is_unevaluated, rate, two_by_two

# Re-exported (defined here before evaluation/strict.py existed; tests and docs import them).

log = logging.getLogger(__name__)

MODES = ("strict", "reference")

Batch = Callable[[list[Problem], list[str | None], list[ParsedOutput | None]], list[dict]]


@ANSWER_SCORERS.register("strict")
def strict_answers(
    problems: list[Problem], outputs: list[str | None], parsed: list[ParsedOutput | None]
) -> list[dict]:
    """Strict answer scoring of a batch (``strict.score_answers``)."""
    return strict.score_answers(problems, parsed)


@ANSWER_SCORERS.register("reference")
def reference_answers(
    problems: list[Problem], outputs: list[str | None], parsed: list[ParsedOutput | None]
) -> list[dict]:
    """Reference answer scoring of a batch (raw outputs; ``evaluation/reference.py``)."""
    return ref.score_answers(problems, outputs)


@TRACE_SCORERS.register("strict")
def strict_traces(
    problems: list[Problem], outputs: list[str | None], parsed: list[ParsedOutput | None]
) -> list[dict]:
    """Strict per-item trace scoring (``strict.score_traces``)."""
    return strict.score_traces(problems, parsed)


@TRACE_SCORERS.register("reference")
def reference_traces(
    problems: list[Problem], outputs: list[str | None], parsed: list[ParsedOutput | None]
) -> list[dict]:
    """Reference trace scoring (PAPER_NOTES 6.2 rules; ``reference.score_traces``)."""
    return ref.score_traces(problems, outputs)


def _check_prediction(pred: Any, *, file: str | None, line: int | None) -> dict:
    if not isinstance(pred, dict) or not isinstance(pred.get("id"), str):
        raise RecordError(
            file=file,
            line=line,
            field="id",
            value=pred,
            fix='Each prediction is an object {"id": str, "output": str, ...}.',
        )
    out = pred.get("output")
    if out is not None and not isinstance(out, str):
        raise RecordError(
            file=file,
            line=line,
            field="output",
            value=out,
            fix="'output' must be the decoded generation as a string (or null).",
        )
    for field, types, fix in _PREDICTION_META:
        value = pred.get(field)
        if value is not None and (not isinstance(value, types) or _is_bool_as_int(value, types)):
            raise RecordError(file=file, line=line, field=field, value=value, fix=fix)
    return pred


#: Optional metadata written by ``tracekd generate``: field, accepted types, how to fix.
_PREDICTION_META: tuple[tuple[str, tuple[type, ...], str], ...] = (
    ("n_new_tokens", (int,), "'n_new_tokens' must be an integer count of generated tokens."),
    (
        "hit_max_new_tokens",
        (bool,),
        "'hit_max_new_tokens' must be true or false (did the output run out of budget?).",
    ),
    (
        "stop_reason",
        (str,),
        "'stop_reason' must be a string (stop, eos or max_new_tokens).",
    ),
)


def _is_bool_as_int(value: Any, types: tuple[type, ...]) -> bool:
    """``True`` passes ``isinstance(_, int)``; a count given as a boolean is still wrong."""
    return isinstance(value, bool) and bool not in types


def read_predictions(path: str | Path) -> dict[str, dict]:
    """Read a predictions JSON-lines file into ``{id: record}`` (ids must be unique)."""
    preds = read_unique_jsonl(
        path,
        lambda obj, file, line: _check_prediction(obj, file=file, line=line),
        key=lambda pred: pred["id"],
        what="Prediction ids (one output per problem)",
    )
    return {pred["id"]: pred for pred in preds}


#: Statuses that end in an answer the parser read from a tagged or untagged remainder.
_CUT_STATUSES = ("ok", "malformed", "untagged_answer")


def _budget_cut(parsed: ParsedOutput, pred: dict) -> ParsedOutput:
    """An output that hit ``max_new_tokens`` without a closed ``</answer>`` is truncated.

    Covers an ``<answer>`` left open and a trace followed by untagged text that ran out of
    budget (the answer was never finished, so it is not scored as one). Bare untraced text
    (``no_trace``: direct prompting) keeps its status.
    """
    if not pred.get("hit_max_new_tokens"):
        return parsed
    output = pred.get("output") or ""
    closed = re.search("</answer>", output, flags=re.IGNORECASE) is not None
    if "unclosed_answer" in parsed.issues or (parsed.status in _CUT_STATUSES and not closed):
        return replace(
            parsed,
            status="truncated",
            answer=None,
            answer_items=None,
            issues=[*parsed.issues, "hit_max_new_tokens"],
        )
    return parsed


def score_items(
    problems: list[Problem],
    predictions: dict[str, dict] | list[dict],
    *,
    answer_scoring: str = "strict",
    trace_scoring: str = "strict",
    parser: str = "reference",
) -> list[dict]:
    """Score every problem's prediction; one item dict per problem, in problem order.

    Every registered answer and trace scorer runs; ``answer_correct``/``<step>_correct`` hold
    the chosen modes, ``answer_correct_<mode>``/``<step>_correct_<mode>`` each mode. A problem
    without a prediction has status ``missing`` (answer wrong, trace unevaluated).

    Raises
    ------
    UnknownNameError
        If a scoring mode or the parser is not registered.

    Examples
    --------
    >>> p = Problem(id="q1", dataset="babi", split="test", question="Where is Bob?",
    ...             context=["Bob went to the kitchen."], answers=["kitchen"],
    ...             label="single-supporting-fact", support=[0])
    >>> out = ("<think>The category of the question represents what is being asked in that "
    ...        "question. The category of the question asked is: single-supporting-fact.\\nI need"
    ...        " to use the following text to answer the question: ['Bob went to the kitchen.']"
    ...        "</think> <answer>kitchen</answer>")
    >>> it = score_items([p], [{"id": "q1", "output": out}])[0]
    >>> it["status"], it["answer_correct"], it["trace_correct"]
    ('ok', True, True)
    >>> score_items([p], {})[0]["status"]
    'missing'
    """
    ANSWER_SCORERS.get(answer_scoring)
    TRACE_SCORERS.get(trace_scoring)
    if isinstance(predictions, list):
        by_id: dict[str, dict] = {}
        for i, pred in enumerate(predictions):
            pred = _check_prediction(pred, file=None, line=i + 1)
            by_id[pred["id"]] = pred
        predictions = by_id
    known = {p.id for p in problems}
    extra = [k for k in predictions if k not in known]
    if extra:
        log.warning("%d predictions have no problem (e.g. %r); ignored", len(extra), extra[0])
    preds = [predictions.get(p.id) for p in problems]
    outputs = [None if d is None else d.get("output") for d in preds]
    parsed = [
        None if t is None else _budget_cut(parse_output(t, p.dataset, template=parser), d)
        for p, t, d in zip(problems, outputs, preds, strict=True)
    ]
    answers = {m: ANSWER_SCORERS.get(m)(problems, outputs, parsed) for m in ANSWER_SCORERS.names()}
    traces = {m: TRACE_SCORERS.get(m)(problems, outputs, parsed) for m in TRACE_SCORERS.names()}
    items = []
    for i, (prob, pred, px) in enumerate(zip(problems, preds, parsed, strict=True)):
        a, t = answers[answer_scoring][i], traces[trace_scoring][i]
        strict_t = traces["strict"][i]
        item: dict[str, Any] = {
            "id": prob.id,
            "dataset": prob.dataset,
            "label": prob.label,
            "status": "missing" if px is None else px.status,
            "answer_correct": bool(a["correct"]),
            "answer_f1": a["f1"],
            "answer_precision": a["precision"],
            "answer_recall": a["recall"],
            "token_f1": answers["strict"][i]["token_f1"],
            "rouge_l": answers["strict"][i]["rouge_l"],
            "label_correct": t["label_correct"],
            "retrieval_correct": t["retrieval_correct"],
            "trace_correct": t["trace_correct"],
            "retrieval_precision": strict_t["retrieval_precision"],
            "retrieval_recall": strict_t["retrieval_recall"],
        }
        for m in answers:
            item[f"answer_correct_{m}"] = bool(answers[m][i]["correct"])
            item[f"answer_f1_{m}"] = answers[m][i]["f1"]
        for m in traces:
            for step in STEPS:
                item[f"{step}_correct_{m}"] = traces[m][i][f"{step}_correct"]
        item.update(
            stated_label=None if px is None else px.label_step,
            n_stated_items=None
            if px is None or px.retrieval_step is None
            else len(px.retrieval_step),
            trace_words=None if px is None or px.trace is None else len(px.trace.split()),
            n_new_tokens=None if pred is None else pred.get("n_new_tokens"),
            hit_max_new_tokens=None if pred is None else pred.get("hit_max_new_tokens"),
            triple_element=prob.meta.get("triple_element"),
            consistent=consistency(prob, px)["consistent"],
            **strict.split_retrieval(prob, px),
        )
        items.append(item)
    return items


def _clean(obj: Any) -> Any:
    """Replace NaN/inf by None so summary.json is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _mean(vals: list[Any]) -> float | None:
    vals = [float(v) for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def _in_mode(items: list[dict], answer_scoring: str, trace_scoring: str) -> list[dict]:
    out = []
    for it in items:
        it = dict(it)
        it["answer_correct"] = it.get(f"answer_correct_{answer_scoring}", it["answer_correct"])
        for step in STEPS:
            it[f"{step}_correct"] = it.get(f"{step}_correct_{trace_scoring}", it[f"{step}_correct"])
        out.append(it)
    return out


def _block(items: list[dict], modes: list[str]) -> dict[str, Any]:
    n = len(items)
    k = sum(it["answer_correct"] for it in items)
    acc = rate(k, n)
    out: dict[str, Any] = {
        "n": n,
        "answer_correct": k,
        "answer_accuracy": acc["rate"],
        "answer_accuracy_ci": [acc["lo"], acc["hi"]],
        "answer_accuracy_by_mode": {
            m: rate(sum(bool(it.get(f"answer_correct_{m}")) for it in items), n)["rate"]
            for m in modes
        },
    }
    for step in STEPS:
        ev = [it for it in items if not is_unevaluated(it[f"{step}_correct"])]
        r = rate(sum(bool(it[f"{step}_correct"]) for it in ev), len(ev))
        out[f"{step}_accuracy"] = r["rate"]
        out[f"{step}_accuracy_ci"] = [r["lo"], r["hi"]]
        out[f"{step}_n"] = len(ev)
    return out


def summarize(
    items: list[dict], *, answer_scoring: str = "strict", trace_scoring: str = "strict"
) -> dict[str, Any]:
    """The summary.json of a scored run (rates with n and 95% Wilson CIs, 2x2 tables, chi2).

    Examples
    --------
    >>> items = [{"id": str(i), "label": "equal", "status": "ok", "answer_correct": i < 2,
    ...           "label_correct": i % 2 == 0, "retrieval_correct": True,
    ...           "trace_correct": i % 2 == 0} for i in range(4)]
    >>> s = summarize(items)
    >>> s["n"], s["answer_accuracy"], s["confusion"]["trace"]
    (4, 0.5, {'tt': 1, 'tf': 1, 'ft': 1, 'ff': 1, 'unevaluated': 0})
    """
    items = _in_mode(items, answer_scoring, trace_scoring)
    modes = [m for m in ANSWER_SCORERS.names() if any(f"answer_correct_{m}" in it for it in items)]
    summary: dict[str, Any] = {"answer_scoring": answer_scoring, "trace_scoring": trace_scoring}
    summary.update(_block(items, modes))
    summary["answer_rate_by_mode"] = {
        m: rate(sum(bool(it.get(f"answer_correct_{m}")) for it in items), len(items)) for m in modes
    }
    statuses: dict[str, int] = {}
    for it in items:
        statuses[it["status"]] = statuses.get(it["status"], 0) + 1
    summary["status_counts"] = dict(sorted(statuses.items()))
    summary["n_missing"] = statuses.get("missing", 0)
    labels = sorted({it["label"] for it in items})
    summary["by_label"] = {
        lab: _block([it for it in items if it["label"] == lab], modes) for lab in labels
    }
    triples = sorted({it["triple_element"] for it in items if it.get("triple_element")})
    if triples:
        summary["by_triple_element"] = {
            te: _block([it for it in items if it.get("triple_element") == te], modes)
            for te in triples
        }
    summary["confusion"] = {s: two_by_two(items, s) for s in STEPS}
    summary["chi2"] = {}
    for s in STEPS:
        plain = chi2_2x2(summary["confusion"][s], correction=False)
        yates = chi2_2x2(summary["confusion"][s], correction=True)
        plain["yates"] = {"statistic": yates["statistic"], "p_value": yates["p_value"]}
        summary["chi2"][s] = plain
    summary["conditional"] = {s: conditional_accuracy(items, s) for s in STEPS}
    summary["both_correct_share"] = summary["conditional"]["trace"]["both_correct_share"]
    for key in (
        "answer_f1",
        "token_f1",
        "rouge_l",
        "retrieval_precision",
        "retrieval_recall",
        "trace_words",
        "n_new_tokens",
    ):
        summary[f"mean_{key}"] = _mean([it.get(key) for it in items])
    summary["n_hit_max_new_tokens"] = sum(bool(it.get("hit_max_new_tokens")) for it in items)
    summary["untagged_answer"] = untagged_sensitivity(items)
    cons = [bool(it["consistent"]) for it in items if it.get("consistent") is not None]
    summary["consistency"] = rate(sum(cons), len(cons))
    return _clean(summary)


def untagged_sensitivity(items: list[dict]) -> dict[str, Any]:
    """Answer accuracy with ``untagged_answer`` items scored as parsed and scored wrong.

    The sensitivity row for the parse status ``untagged_answer`` (parse.py): how much of the
    accuracy rests on answers the student wrote without ``<answer>`` tags.

    Examples
    --------
    >>> items = [{"id": "a", "status": "ok", "answer_correct": True},
    ...          {"id": "b", "status": "untagged_answer", "answer_correct": True}]
    >>> r = untagged_sensitivity(items)
    >>> r["n"], r["accuracy"], r["accuracy_untagged_wrong"], r["ids"]
    (1, 1.0, 0.5, ['b'])
    """
    untagged = [it for it in items if it.get("status") == "untagged_answer"]
    n = len(items)
    k = sum(bool(it["answer_correct"]) for it in items)
    k_untagged = sum(bool(it["answer_correct"]) for it in untagged)
    return {
        "n": len(untagged),
        "n_correct": k_untagged,
        "accuracy": rate(k, n)["rate"],
        "accuracy_untagged_wrong": rate(k - k_untagged, n)["rate"],
        "ids": [it["id"] for it in untagged],
    }


def score_run(
    problems_path: str | Path,
    predictions_path: str | Path,
    out_dir: str | Path,
    *,
    answer_scoring: str = "strict",
    trace_scoring: str = "strict",
    parser: str = "reference",
    split: str | None = None,
) -> dict[str, Any]:
    """Score a predictions file; write ``out_dir/items.jsonl`` and ``summary.json`` atomically.

    ``split`` restricts scoring to the problems of one split (the grid scores ``test``); with
    ``None`` every problem of the file is scored and a missing prediction counts as wrong.

    Returns
    -------
    dict
        The summary (also written), with the input paths and their sha256 prefixes.
    """
    problems = [p for p in read_problems(problems_path) if split is None or p.split == split]
    predictions = read_predictions(predictions_path)
    items = score_items(
        problems,
        predictions,
        answer_scoring=answer_scoring,
        trace_scoring=trace_scoring,
        parser=parser,
    )
    summary = summarize(items, answer_scoring=answer_scoring, trace_scoring=trace_scoring)
    summary["inputs"] = {
        "problems": str(problems_path),
        "predictions": str(predictions_path),
        "problems_sha256": file_sha256(problems_path),
        "predictions_sha256": file_sha256(predictions_path),
        "parser": parser,
        "tracekd_version": package_version(),
    }
    out = Path(out_dir)
    write_jsonl(out / "items.jsonl", items)
    atomic_write_json(out / "summary.json", summary)
    log.info(
        "scored %d items -> %s (answer %s acc %.3f)",
        len(items),
        out,
        answer_scoring,
        summary["answer_accuracy"] or 0.0,
    )
    return summary
