"""The findings page (book root): headline sentences generated from the computed tables.

No number on that page is typed by hand: each sentence is formatted from ``report`` and
``disconnect`` tables of the same grid, so a new build states its own results.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..evaluation import stats, stratified
from ..evaluation.clustered import (
    MIN_SEEDS,
    association_verdict,
    paired_pooled,
    pooled_association,
    verdict,
)
from ..experiment.conditions import get_condition
from . import tables as report
from .plots import CONDITION_ORDER


def _pct(x: float | None) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{100 * x:.1f}%"


def profile_blurb(index: dict[str, Any]) -> str:
    """What produced this build: profile, student(s), datasets and sizes, seeds, wall time."""
    prof = index["profile"]
    students = prof.get("students") or [prof["train"]["student"]]
    ds = ", ".join(
        f"{d['dataset']} ({d['source']}, {d.get('n_train') or 'all'} train / "
        f"{d.get('n_test') or 'all'} test)"
        for d in prof["datasets"]
    )
    return (
        f"**Profile `{prof['name']}`** — {prof.get('description', '')}\n\n"
        f"- students: {', '.join(f'`{s}`' for s in students)}; "
        f"training: {'QLoRA (NF4)' if prof['train']['quant'] == 'nf4' else 'LoRA'} "
        f"r={prof['train']['lora_r']}, "
        f"{prof['train']['epochs']} epochs, loss on {prof['train']['loss']} tokens\n"
        f"- datasets: {ds}\n- conditions: {', '.join(prof['conditions'])}; "
        f"seeds: {prof['seeds']}\n- hardware: {prof.get('hardware', 'n/a')}; "
        f"grid compute time: {index.get('compute_seconds', 'n/a')} s; last re-run: "
        f"{index.get('wall_seconds', 'n/a')} s (finished cells are skipped)"
    )


def best_condition(acc: pd.DataFrame) -> str:
    """ "Best condition" sentence: only when the top rate beats the runner-up (never on a tie).

    Examples
    --------
    >>> best_condition(pd.DataFrame({"condition": ["vanilla", "correct"], "rate": [0.5, 0.5]}))
    'No single best condition: SFT vanilla (answer only) and SFT correct traces tie at 50.0%.'
    """
    ranked = acc.dropna(subset=["rate"]).sort_values("rate", ascending=False)
    if ranked.empty:
        return "No accuracy to rank."
    top = ranked.iloc[0]
    tied = ranked[ranked["rate"] == top["rate"]]
    if len(tied) > 1:
        names = " and ".join(get_condition(c).title for c in tied["condition"])
        return f"No single best condition: {names} tie at {_pct(top['rate'])}."
    if len(ranked) == 1:
        return f"Only one condition: **{get_condition(top['condition']).title}**."
    second = ranked.iloc[1]
    return (
        f"Highest accuracy: **{get_condition(top['condition']).title}** "
        f"({_pct(top['rate'])}, runner-up {get_condition(second['condition']).title} "
        f"{_pct(second['rate'])})."
    )


def swap_absent_sentence(relevance: pd.DataFrame) -> str:
    """Name ``swap`` for what it is, with its measured rate per dataset (book chapter 1).

    ``relevance`` is ``report.corruption_relevance_table``; ``swap`` states another problem's
    facts, so it tests facts absent from the problem's context, not plausible distractors.

    Examples
    --------
    >>> t = pd.DataFrame({"dataset": ["babi", "babi"], "corruption": ["swap", "retrieval"],
    ...                   "n": [10, 10], "absent_from_context": [0.9, 0.0],
    ...                   "shares_question_word": [0.1, 0.6]})
    >>> swap_absent_sentence(t)
    '`swap` **states facts absent from the context**: babi 90.0% of 10 traces (their facts share a question word in 10.0%; retrieval distractors 60.0%).'
    """  # noqa: E501
    if relevance.empty or "absent_from_context" not in relevance:
        return "No `swap` corruption in this build."
    swap = relevance[(relevance["corruption"] == "swap") & relevance["absent_from_context"].notna()]
    if swap.empty:
        return "No `swap` corruption in this build."
    retr = relevance[relevance["corruption"] == "retrieval"].set_index("dataset")
    parts = []
    for r in swap.itertuples():
        extra = (
            f"; retrieval distractors {_pct(retr.loc[r.dataset, 'shares_question_word'])}"
            if r.dataset in retr.index
            else ""
        )
        parts.append(
            f"{r.dataset} {_pct(r.absent_from_context)} of {int(r.n)} traces (their facts share "
            f"a question word in {_pct(r.shares_question_word)}{extra})"
        )
    return "`swap` **states facts absent from the context**: " + "; ".join(parts) + "."


def _primary_sentence(g: pd.DataFrame) -> str:
    """The primary test: incorrect minus correct traces, one pooled paired test over seeds."""
    r = paired_pooled(
        g[g["condition"] == "correct"][["id", "seed", "answer_correct"]],
        g[g["condition"] == "incorrect"][["id", "seed", "answer_correct"]],
        n_boot=1000,
    )
    if r["diff"] is None:
        return "- Primary test (incorrect minus correct traces): no shared problems."
    p = "n/a" if r["p_value"] is None else f"{r['p_value']:.3g}"
    return (
        f"- **Primary test** (strict scoring), incorrect minus correct traces on the same "
        f"{r['n_problems']} problems, pooled over {r['n_seeds_b']} seed(s): "
        f"{_pct(r['diff'])} (problem-clustered 95% CI {_pct(r['lo'])} to {_pct(r['hi'])}; "
        f"clustered logit p = {p}). Verdict: **{verdict(r)}**"
        + (f" (needs at least {MIN_SEEDS} seeds)." if not r["enough_seeds"] else ".")
    )


def _ignores_trace_sentence(g: pd.DataFrame) -> str | None:
    """Share of incorrect-trace answers that do not follow from their own stated facts."""
    if "consistent" not in g:
        return None
    c = g[(g["condition"] == "incorrect") & g["consistent"].notna()]
    if c.empty:
        return None
    share = 1 - c["consistent"].astype(bool).mean()
    return (
        f"- Incorrect-trace students: {_pct(share)} of their answers (n = {len(c)}) do not "
        f"follow from the facts their own trace states; training on incorrect traces teaches "
        f"the student to ignore its trace, so their accuracy says little about reasoning."
    )


def _p(x: float | None) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{x:.3g}"


def _association_sentences(c: pd.DataFrame) -> list[str]:
    """Correct-trace students: whole trace (consistency) and label step (primary), seeds pooled
    by one GEE on problem id (``clustered.pooled_association``), never as independent rows."""
    t = stats.two_by_two(c.to_dict("records"), "trace")
    cond = stats.conditional_accuracy(c.to_dict("records"), "trace")
    whole = pooled_association(c, "trace", stratum="label")
    label = pooled_association(c, "label", stratum="label")
    per_seed = [
        stratified.cmh(stratified.stratified_tables(s.to_dict("records"), "label"))["p_value"]
        for _, s in c.groupby("seed")
    ]
    or_ = "n/a" if label["odds_ratio"] is None else f"{label['odds_ratio']:.2f}"
    return [
        f"- Correct-trace students (answer-trace consistency, not the paper's question: "
        f"the gold retrieval step contains the answer): correct trace **and** correct "
        f"answer for {_pct(t['tt'] / len(c))} of test rows (the paper reports 28%); "
        f"P(answer correct | trace correct) = {_pct(cond['given_correct']['rate'])} vs "
        f"P(answer correct | trace wrong) = {_pct(cond['given_wrong']['rate'])} "
        f"(GEE over {whole['n_seeds']} seed(s) on {whole['n_problems']} problems, "
        f"{whole['status']}, p = {_p(whole['p_value'])}); {t['unevaluated']} outputs had no "
        f"evaluable trace.",
        f"- **Primary association test** (the label step, not tied to the answer; binomial GEE "
        f"on problem id with label fixed effects, {label['n_seeds']} seed(s) pooled, "
        f"{label['n_strata_used']} informative label stratum/strata): OR {or_}, "
        f"p = {_p(label['p_value'])} ({label['status']}). Verdict: "
        f"**{association_verdict(label)}**. Per-seed CMH p: "
        f"{', '.join(_p(p) for p in per_seed) or 'n/a'}.",
    ]


def findings_markdown(items: pd.DataFrame) -> str:
    """Headline results per dataset and student, as markdown sentences (strict scoring first)."""
    out = []
    for (ds, student), g in items.groupby(["dataset", "student"], sort=True):
        lines = [f"### {ds} — `{student}`", "", "*Strict scoring.*", ""]
        acc = report.clustered_accuracy_table(g, n_boot=1000)
        order = {c: i for i, c in enumerate(CONDITION_ORDER)}
        acc = acc.sort_values("condition", key=lambda c: c.map(order)).reset_index(drop=True)
        for r in acc.itertuples():
            lines.append(
                f"- {get_condition(r.condition).title}: answer accuracy {_pct(r.rate)} "
                f"(problem-clustered 95% CI {_pct(r.lo)}–{_pct(r.hi)}; {r.n_problems} problems "
                f"x {max(r.n_seeds, 1)} seed(s), seed sd {_pct(r.seed_sd)})"
            )
        lines.append(f"- {best_condition(acc)}")
        conds = set(g["condition"])
        if {"correct", "incorrect"} <= conds:
            lines.append(_primary_sentence(g))
            extra = _ignores_trace_sentence(g)
            if extra:
                lines.append(extra)
        if "correct" in conds:
            lines += _association_sentences(g[g["condition"] == "correct"])
        out.append("\n".join(lines))
    return "\n\n".join(out)


__all__ = ["findings_markdown", "profile_blurb"]
