"""Inference-time interventions on the trace: does the answer depend on it? (book chapter 7).

Training-time corruption cannot tell whether an answer depends on its trace; intervening at
inference can (Lanham et al. 2023, "Measuring Faithfulness in Chain-of-Thought Reasoning": early
answering, adding mistakes, filler tokens). For a trained student and a set of test problems,
the assistant turn is *forced* to ``<think>{prefix}</think> <answer>`` and only the answer is
generated. Prefix kinds (``KINDS``):

``own``        the student's own trace from its predictions (the unperturbed control)
``gold``       the gold trace (gold label and support)
``label`` / ``retrieval`` / ``both``   the gold trace with that corruption (``corrupt.py``)
``other``      another problem's gold trace (the next problem of the list: a derangement)
``truncated``  the first half of the student's own trace (words)
``filler``     dots of the same character length as the own trace
``empty``      an empty think block (early answering)

Every prefix of one problem goes into the same ``generate.generate_batch`` call, so the shared
prompt is one common token prefix (the generator reuses its KV cache). Per item: the answer, its
strict correctness, and whether it changed from the student's unperturbed answer (the answer of
its own free generation). The summary gives per kind the answer-change rate and accuracy with
problem-clustered intervals and a McNemar test against the unperturbed answer.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import INTERVENTION_KINDS, GenerateConfig
from ..errors import UnknownNameError
from ..evaluation.clustered import cluster_bootstrap_rate, paired_pooled
from ..evaluation.parse import parse_output
from ..evaluation.score import read_predictions
from ..evaluation.stats import mcnemar
from ..evaluation.strict import score_answers
from ..records import Problem, iter_jsonl, read_problems, write_jsonl
from ..runio import atomic_write_json
from ..text import normalize_text
from ..traces.corrupt import corrupt_all
from ..traces.decompose import TRACE_TEMPLATES
from ..traces.prompts import prompt_messages

log = logging.getLogger(__name__)

KINDS = INTERVENTION_KINDS  # validated by the config
CORRUPTION_KINDS = ("label", "retrieval", "both")


def _think_body(text: str) -> str:
    """The text inside ``<think>...</think>`` of a rendered target."""
    return text.split("<think>", 1)[1].split("</think>", 1)[0]


def forced_traces(
    problems: Sequence[Problem],
    own: dict[str, str | None],
    kinds: Sequence[str] = KINDS,
    *,
    seed: int = 0,
) -> dict[str, dict[str, str]]:
    """``{problem id: {kind: trace text}}``: the trace each intervention forces.

    A kind that cannot be built for a problem (``own``/``truncated``/``filler`` without an own
    trace, ``other`` with a single problem) is left out for that problem.

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="test", question="Q?",
    ...             context=["A works for B.", "A works for C."], answers=["B"],
    ...             label="equal", support=[0])
    >>> t = forced_traces([p], {"c": "x y z w"}, ["own", "truncated", "filler", "empty"])
    >>> t["c"]
    {'own': 'x y z w', 'truncated': 'x y', 'filler': '.......', 'empty': ''}
    """

    template = TRACE_TEMPLATES.get("reference")
    gold = {p.id: _think_body(template.render(p, p.label, p.support_text).text) for p in problems}
    corrupted = {
        k: {
            p.id: _think_body(template.render(p, t.label, t.support_text).text)
            for p, t in zip(problems, corrupt_all(problems, k, seed=seed), strict=True)
        }
        for k in CORRUPTION_KINDS
        if k in kinds
    }
    out: dict[str, dict[str, str]] = {}
    for i, p in enumerate(problems):
        mine = own.get(p.id)
        row: dict[str, str] = {}
        for k in kinds:
            if k == "own" and mine:
                row[k] = mine
            elif k == "gold":
                row[k] = gold[p.id]
            elif k in corrupted:
                row[k] = corrupted[k][p.id]
            elif k == "other" and len(problems) > 1:
                row[k] = gold[problems[(i + 1) % len(problems)].id]
            elif k == "truncated" and mine:
                words = mine.split()
                row[k] = " ".join(words[: len(words) // 2])
            elif k == "filler" and mine:
                row[k] = "." * len(mine)
            elif k == "empty":
                row[k] = ""
        out[p.id] = row
    return out


def forced_text(trace: str) -> str:
    """The forced start of the assistant turn.

    Examples
    --------
    >>> forced_text("t")
    '<think>t</think> <answer>'
    """
    return f"<think>{trace}</think> <answer>"


def _score(problem: Problem, text: str) -> tuple[str | None, bool]:
    parsed = parse_output(text, problem.dataset)
    return parsed.answer, bool(score_answers([problem], [parsed])[0]["correct"])


def _norm(answer: str | None) -> str:
    return normalize_text(answer or "")


def run_interventions(
    model: Any,
    tok: Any,
    problems: Sequence[Problem],
    predictions: dict[str, dict],
    cfg: GenerateConfig,
    *,
    kinds: Sequence[str] = KINDS,
    template_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per-item records of every intervention on every problem (one batch per problem)."""
    from tqdm.auto import tqdm

    from ..students.generate import generate_batch
    from ..students.render import render_prompt

    base = {}
    own = {}
    for p in problems:
        out = (predictions.get(p.id) or {}).get("output")
        parsed = parse_output(out, p.dataset) if out is not None else None
        own[p.id] = parsed.trace if parsed is not None else None
        base[p.id] = _score(p, out) if out is not None else (None, False)
    traces = forced_traces(problems, own, kinds, seed=seed)
    records = []
    for p in tqdm(problems, desc="interventions", unit="problem"):
        row = traces[p.id]
        if not row:
            continue
        prompt = render_prompt(prompt_messages(p), tok, template_kwargs or {})
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        names = list(row)
        batch = [
            prompt_ids + tok(forced_text(row[k]), add_special_tokens=False)["input_ids"]
            for k in names
        ]
        results = generate_batch(model, tok, batch, cfg, seed)
        b_answer, b_correct = base[p.id]
        for k, res in zip(names, results, strict=True):
            answer, correct = _score(p, forced_text(row[k]) + res["output"])
            records.append(
                {
                    "id": p.id,
                    "label": p.label,
                    "kind": k,
                    "forced_trace": row[k],
                    "output": res["output"],
                    "hit_max_new_tokens": res.get("hit_max_new_tokens"),
                    "answer": answer,
                    "answer_correct": correct,
                    "baseline_answer": b_answer,
                    "baseline_correct": b_correct,
                    "changed": _norm(answer) != _norm(b_answer),
                }
            )
    return records


def summarize_interventions(records: list[dict[str, Any]], *, n_boot: int = 1000) -> dict:
    """Per kind: n, answer-change rate and accuracy (problem-clustered CIs), McNemar vs baseline.

    Records may carry a ``seed`` column (several students of one condition); intervals resample
    problems with all their seeds (``clustered.cluster_bootstrap_rate``). ``mcnemar_p`` pairs
    (problem, seed) rows; ``pooled_p`` is the pooled paired test over seeds
    (``clustered.paired_pooled``: problem-clustered binomial GLM), ``enough_seeds`` its seed
    count check.

    Examples
    --------
    >>> recs = [{"id": str(i), "kind": "gold", "answer_correct": True, "changed": i < 2,
    ...          "baseline_correct": i < 5} for i in range(10)]
    >>> s = summarize_interventions(recs, n_boot=100)["kinds"]["gold"]
    >>> s["n"], s["change_rate"], s["accuracy"], s["baseline_accuracy"], s["mcnemar_b_only"]
    (10, 0.2, 1.0, 0.5, 5)
    """

    out: dict[str, Any] = {"kinds": {}, "n_records": len(records)}
    for kind in dict.fromkeys(r["kind"] for r in records):
        rs = [r for r in records if r["kind"] == kind]
        key = [{"id": f"{r['id']}|{r.get('seed', 0)}", **r} for r in rs]
        ch = cluster_bootstrap_rate(rs, "changed", n_boot=n_boot, seed=0)
        acc = cluster_bootstrap_rate(rs, "answer_correct", n_boot=n_boot, seed=0)
        base = [{"id": k["id"], "answer_correct": k["baseline_correct"]} for k in key]
        mc = mcnemar(base, key, key="answer_correct")
        # seeds are repeated measures of a problem: one pooled paired test over all of them
        pooled = paired_pooled(
            [{"id": r["id"], "seed": r.get("seed", 0), "y": r["baseline_correct"]} for r in rs],
            [{"id": r["id"], "seed": r.get("seed", 0), "y": r["answer_correct"]} for r in rs],
            "y",
            n_boot=n_boot,
        )
        out["kinds"][kind] = {
            "n": len(rs),
            "n_problems": ch["n_problems"],
            "change_rate": ch["rate"],
            "change_lo": ch["lo"],
            "change_hi": ch["hi"],
            "accuracy": acc["rate"],
            "accuracy_lo": acc["lo"],
            "accuracy_hi": acc["hi"],
            "baseline_accuracy": mc["acc_a"],
            "diff": mc["diff"],
            "mcnemar_a_only": mc["a_only"],
            "mcnemar_b_only": mc["b_only"],
            "mcnemar_p": mc["p_value"],
            "pooled_p": pooled["p_value"],
            "enough_seeds": pooled["enough_seeds"],
        }
    return out


def intervene(
    student: str,
    adapter: str | Path | None,
    problems_path: str | Path,
    predictions_path: str | Path,
    out_dir: str | Path,
    *,
    cfg: GenerateConfig,
    kinds: Sequence[str] = KINDS,
    n_problems: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Load the student, run every intervention on test problems, write items and summary.

    ``n_problems`` test problems are drawn deterministically (``random.Random(seed)``) when the
    split has more. Writes ``out_dir/items.jsonl`` and ``out_dir/summary.json``.
    """
    from ..students.catalog import resolve_dtype, resolve_spec
    from ..students.generate import load_for_generation

    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UnknownNameError(
            f"intervention kind {unknown[0]!r} is not known; known kinds: {list(KINDS)}. "
            "Fix --kinds or the profile's interventions.kinds."
        )
    test = [p for p in read_problems(problems_path) if p.split == "test"]
    if n_problems is not None and len(test) > n_problems:
        test = sorted(random.Random(seed).sample(test, n_problems), key=lambda p: p.id)
    preds = read_predictions(predictions_path)
    model, tok = load_for_generation(student, adapter=adapter, dtype=resolve_dtype(cfg.dtype))
    kwargs = resolve_spec(student).template_kwargs
    records = run_interventions(
        model, tok, test, preds, cfg, kinds=kinds, template_kwargs=kwargs, seed=seed
    )
    summary = summarize_interventions(records)
    summary["inputs"] = {
        "student": student,
        "adapter": None if adapter is None else str(adapter),
        "problems": str(problems_path),
        "predictions": str(predictions_path),
        "n_problems": len(test),
        "kinds": list(kinds),
        "max_new_tokens": cfg.max_new_tokens,
    }
    out = Path(out_dir)
    write_jsonl(out / "items.jsonl", records)
    atomic_write_json(out / "summary.json", summary)
    log.info("interventions: %d records on %d problems -> %s", len(records), len(test), out)
    return summary


def load_interventions(index: dict[str, Any]):
    """All intervention records of a grid index (``grid.json``), with cell columns attached."""
    import pandas as pd

    frames = []
    for e in index.get("interventions") or []:
        rows = [obj for _, obj in iter_jsonl(Path(e["interventions_dir"]) / "items.jsonl")]
        df = pd.DataFrame(rows)
        for col in ("dataset", "student", "condition", "seed"):
            df[col] = e[col]
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def intervention_table(records, n_boot: int = 1000):
    """Per dataset/student/condition/kind: change rate, accuracy (clustered CIs over problems
    and seeds) and McNemar against the unperturbed answer (``summarize_interventions``)."""
    import pandas as pd

    if records is None or len(records) == 0:
        return pd.DataFrame()
    rows = []
    for key, g in records.groupby(["dataset", "student", "condition"], sort=True):
        s = summarize_interventions(g.to_dict("records"), n_boot=n_boot)
        for kind, r in s["kinds"].items():
            rows.append(
                {
                    **dict(zip(("dataset", "student", "condition"), key, strict=True)),
                    "kind": kind,
                    "n_seeds": int(g["seed"].nunique()),
                    **r,
                }
            )
    return pd.DataFrame(rows)
