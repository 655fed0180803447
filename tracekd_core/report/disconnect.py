"""The disconnect between trace and answer correctness (book chapter 4; paper section 6.2, 8.5).

For every trained trace condition: the answer x step 2x2 tables (label step, retrieval step,
whole trace) with the unevaluated count, chi-square with and without Yates' correction, phi and
the odds ratio, P(answer | step correct) versus P(answer | step wrong) with Wilson intervals, the
share of problems with a correct trace *and* a correct answer (what the paper's 28% refers to),
the same tables under the reference's trace-scoring rules, a logistic model, and output health.

Issue 9: beside each pooled association, the test actually used (Fisher's exact when an expected
count is below 5; no odds ratio when a margin is empty) and the Cochran-Mantel-Haenszel test and
common odds ratio stratified by the item's ``label`` (CoTemp relation, bAbI task, MARCO query
type), since pooling is confounded by it; p-values of a table are Holm-adjusted as one family.
Those tables are per seed; ``pooled_step_table`` gives one test per step over all seeds (a GEE on
problem id with label fixed effects; seeds are repeated measures of the same problems), with the
declared primary test (``PRIMARY_ASSOCIATION``) and Holm on the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..evaluation import stats, stratified
from ..evaluation.clustered import cluster_bootstrap_rate
from ..experiment.conditions import get_condition
from ..records import iter_jsonl
from ..registry import TRACE_SCORERS


def trace_conditions(items: pd.DataFrame) -> list[str]:
    """Conditions of the grid whose students are trained to write a trace."""
    return [c for c in dict.fromkeys(items["condition"]) if get_condition(c).has_trace]


def disconnect_table(
    items: pd.DataFrame,
    by: tuple[str, ...] = ("dataset", "student", "condition", "seed"),
    steps: tuple[str, ...] = ("label", "retrieval", "trace", "anchor", "answer_facts"),
) -> pd.DataFrame:
    """For each group and step: the 2x2 answer x step table, chi-square, phi, odds ratio,
    P(answer | step correct) and P(answer | step wrong) with CIs, and the TT share (the paper's
    "correct trace and correct answer" 28%)."""
    steps = tuple(s for s in steps if f"{s}_correct" in items)
    rows = []
    for key, g in items.groupby(list(by), sort=True):
        recs = g.to_dict("records")
        cond = get_condition(dict(zip(by, key, strict=True)).get("condition", "correct"))
        # a label-only trace states no facts: only its label step can be right or wrong
        for step in ("label",) if cond.kind == "label_only" else steps:
            t = stats.two_by_two(recs, step)
            n_eval = t["tt"] + t["tf"] + t["ft"] + t["ff"]
            if n_eval == 0:
                continue
            c = stats.chi2_2x2(t, correction=True)
            c0 = stats.chi2_2x2(t, correction=False)
            assoc = stratified.association(t)
            strat = stratified.cmh(stratified.stratified_tables(recs, step, "label"))
            cacc = stats.conditional_accuracy(recs, step)
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "step": step,
                    **t,
                    "n": len(g),
                    "chi2_yates": c["statistic"],
                    "p_yates": c["p_value"],
                    "chi2": c0["statistic"],
                    "p": c0["p_value"],
                    "phi": c0["phi"],
                    "odds_ratio": assoc["odds_ratio"],
                    "test": assoc["test"],
                    "p_test": assoc["p_value"],
                    "p_fisher": assoc["p_fisher"],
                    "cmh_strata": strat["n_strata_used"],
                    "cmh_p": strat["p_value"],
                    "cmh_or": strat["common_or"],
                    "cmh_or_lo": strat["common_or_ci"][0],
                    "cmh_or_hi": strat["common_or_ci"][1],
                    "p_homogeneity": strat["p_homogeneity"],
                    **{f"acc_given_step_{k}": v for k, v in _flat(cacc).items()},
                    "tt_share": t["tt"] / len(g),
                }
            )
    df = pd.DataFrame(rows)
    if not df.empty:  # one family per table: every pooled and every stratified test
        for col in ("p_test", "cmh_p"):
            df[f"{col}_holm"] = stratified.holm([None if pd.isna(v) else float(v) for v in df[col]])
    return df


#: The declared primary test of chapter 4: the label step (not tied to the answer) of the
#: correct-trace students, pooled over seeds (``clustered.pooled_association``).
PRIMARY_ASSOCIATION = ("correct", "label")
#: What each step's table measures: the paper's question, or answer-trace consistency (the gold
#: retrieval step of CoTemp/MARCO is the facts that contain the answer).
STEP_MEASURES = {
    "label": "paper's question",
    "anchor": "states the question's event (not in the gold trace)",
    "retrieval": "consistency",
    "answer_facts": "consistency",
    "trace": "consistency",
}


def pooled_step_table(
    items: pd.DataFrame,
    steps: tuple[str, ...] = ("label", "anchor", "retrieval", "answer_facts", "trace"),
) -> pd.DataFrame:
    """Every step x answer association with one test pooling all seeds (issue 9).

    Per dataset, student, trace condition and step: ``clustered.pooled_association`` (binomial
    GEE on problem id, exchangeable, label fixed effects). The row ``PRIMARY_ASSOCIATION``
    (correct traces, label step) of each dataset and student is the declared primary test and
    keeps its raw p; every other row of the table is Holm-adjusted as one family (``p_holm``).
    ``verdict`` (``clustered.association_verdict`` on ``p_holm``) needs ``MIN_SEEDS`` seeds;
    ``measures`` says whether the row is the paper's question or answer-trace consistency.
    """
    from ..evaluation.clustered import association_verdict, pooled_association

    rows = []
    for (ds, student, cond), g in items.groupby(["dataset", "student", "condition"], sort=True):
        kind = get_condition(cond)
        if not kind.has_trace:
            continue
        for step in ("label",) if kind.kind == "label_only" else steps:
            if f"{step}_correct" not in g or g[f"{step}_correct"].notna().sum() == 0:
                continue
            r = pooled_association(g, step, stratum="label")
            rows.append(
                {
                    "dataset": ds,
                    "student": student,
                    "condition": cond,
                    "measures": STEP_MEASURES.get(step, "consistency"),
                    "primary": (cond, step) == PRIMARY_ASSOCIATION,
                    **r,
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    secondary = ~df["primary"]
    df["p_holm"] = df["p_value"]
    adj = stratified.holm([None if pd.isna(p) else float(p) for p in df.loc[secondary, "p_value"]])
    df["p_holm"] = df["p_holm"].astype(object)
    df.loc[secondary, "p_holm"] = pd.Series(adj, index=df.index[secondary], dtype=object)
    df["verdict"] = [
        association_verdict({**r, "p_value": r["p_holm"]}) for r in df.to_dict("records")
    ]
    return df


def primary_association_markdown(pooled: pd.DataFrame) -> str:
    """The declared primary test of chapter 4, one sentence per dataset and student.

    ``pooled`` is ``pooled_step_table``; numbers come from its primary rows, the verdict needs
    ``clustered.MIN_SEEDS`` seeds.
    """
    if pooled.empty or not pooled["primary"].any():
        return "*No correct-trace label step in this build: no primary test.*"
    out = []
    for r in pooled[pooled["primary"]].itertuples():
        or_ = "n/a" if r.odds_ratio is None or pd.isna(r.odds_ratio) else f"{r.odds_ratio:.2f}"
        ci = (
            ""
            if r.or_lo is None or pd.isna(r.or_lo)
            else f" (95% CI {r.or_lo:.2f} to {r.or_hi:.2f})"
        )
        p = "n/a" if r.p_value is None or pd.isna(r.p_value) else f"{r.p_value:.3g}"
        out.append(
            f"- **{r.dataset}, `{r.student}`**: label step x answer of the correct-trace "
            f"students, {r.n} rows of {r.n_problems} problems x {r.n_seeds} seed(s), "
            f"{r.n_strata_used} informative label strata: OR {or_}{ci}, p = {p} "
            f"({r.status}). Verdict: **{r.verdict}**."
        )
    return "\n".join(out)


def anchor_table(dis: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """The anchor step on its own: per-seed rows of ``disconnect_table`` beside the pooled test.

    ``anchor_correct`` is true when the trace states the question's own event fact; the gold
    trace never states it (it is not answer-bearing), so this is not a correctness of the gold
    trace but whether a student restates the question's event.
    """
    cols = ["dataset", "student", "condition", "seed", "tt", "tf", "ft", "ff", "n", "test"]
    cols += ["p_test", "odds_ratio", "cmh_p", "cmh_or"]
    per_seed = dis[dis["step"] == "anchor"][[c for c in cols if c in dis]] if len(dis) else dis
    if pooled.empty or "step" not in pooled:
        return per_seed.reset_index(drop=True)
    pool = pooled[pooled["step"] == "anchor"][
        ["dataset", "student", "condition", "n_seeds", "odds_ratio", "p_value", "p_holm", "status"]
    ].rename(columns={"odds_ratio": "pooled_or", "p_value": "pooled_p", "p_holm": "pooled_p_holm"})
    return per_seed.merge(pool, on=["dataset", "student", "condition"], how="left")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}_"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def trace_modes_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Whole-trace 2x2 table, chi-square and TT share under strict and reference trace scoring.

    Read from each cell's ``items.jsonl``, which holds every trace scorer's verdict
    (``trace_correct_<mode>``) beside the answer verdict of the profile's answer mode, so the
    only difference between the two rows of a cell is the trace scoring rule.
    """
    rows = []
    for cell in cells.itertuples():
        if not get_condition(cell.condition).has_trace:
            continue
        scored = [obj for _, obj in iter_jsonl(Path(cell.score_dir) / "items.jsonl")]
        for mode in TRACE_SCORERS.names():
            items = [
                {
                    "answer_correct": it["answer_correct"],
                    "trace_correct": it[f"trace_correct_{mode}"],
                }
                for it in scored
            ]
            t = stats.two_by_two(items, "trace")
            c = stats.chi2_2x2(t, correction=False)
            assoc = stratified.association(t)  # Fisher when an expected count is below 5
            rows.append(
                {
                    "dataset": cell.dataset,
                    "student": cell.student,
                    "condition": cell.condition,
                    "seed": cell.seed,
                    "trace_scoring": mode,
                    **t,
                    "trace_accuracy": _share(items, "trace_correct"),
                    "chi2": c["statistic"],
                    "p": c["p_value"],
                    "test": assoc["test"],
                    "p_test": assoc["p_value"],
                    "phi": c["phi"],
                    "tt_share": t["tt"] / len(items) if items else None,
                }
            )
    return pd.DataFrame(rows)


def _share(items: list[dict[str, Any]], key: str) -> float | None:
    vals = [bool(it[key]) for it in items if it.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def logistic_table(items: pd.DataFrame) -> pd.DataFrame:
    """Logit of answer correctness on whole-trace correctness and label, per dataset/condition
    (seeds pooled, errors clustered by problem id)."""
    rows = []
    for (ds, student, cond), g in items.groupby(["dataset", "student", "condition"], sort=True):
        res = stats.logistic_model(g, cluster="id", step="trace")
        rows.append(
            {
                "dataset": ds,
                "student": student,
                "condition": cond,
                **{k: v for k, v in res.items() if not isinstance(v, dict | list)},
            }
        )
    return pd.DataFrame(rows)


def status_table(items: pd.DataFrame) -> pd.DataFrame:
    """Share of each parse status per dataset/condition (unparseable outputs are data)."""
    t = (
        items.groupby(["dataset", "student", "condition"])["status"]
        .value_counts(normalize=True)
        .rename("share")
        .reset_index()
    )
    wide = t.pivot_table(
        index=["dataset", "student", "condition"], columns="status", values="share", fill_value=0.0
    )
    extra = [c for c in ("trace_words", "n_new_tokens", "hit_max_new_tokens") if c in items]
    if extra:
        wide = wide.join(items.groupby(["dataset", "student", "condition"])[extra].mean())
    return wide


def consistency_table(items: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Answer-trace consistency per dataset/student/condition (seeds pooled, clustered CI).

    ``consistent`` (``consistency.py``): the answer equals what the dataset's solver derives
    from the label and facts the trace states. This is *not* evidence that correct reasoning
    helps; for incorrect-trace students ``1 - rate`` is the share of answers that ignore the
    trace.
    """

    if "consistent" not in items:
        return pd.DataFrame()
    rows = []
    for key, g in items.groupby(["dataset", "student", "condition"], sort=True):
        g = g[g["consistent"].notna()]
        if g.empty:
            continue
        r = cluster_bootstrap_rate(g[["id", "seed", "consistent"]], "consistent", n_boot=n_boot)
        rows.append(
            {
                **dict(zip(("dataset", "student", "condition"), key, strict=True)),
                "n": r["n"],
                "n_problems": r["n_problems"],
                "consistent": r["rate"],
                "lo": r["lo"],
                "hi": r["hi"],
                "ignores_trace": 1 - r["rate"],
            }
        )
    return pd.DataFrame(rows)


LABEL_STEP_COLUMNS = (
    "dataset",
    "student",
    "condition",
    "seed",
    "tt",
    "tf",
    "ft",
    "ff",
    "test",
    "p_test",
    "odds_ratio",
    "cmh_strata",
    "cmh_or",
    "cmh_or_lo",
    "cmh_or_hi",
    "cmh_p",
    "cmh_p_holm",
)


def label_step_table(dis: pd.DataFrame) -> pd.DataFrame:
    """The label-step rows of ``disconnect_table``: pooled test beside the stratified CMH one."""
    if dis.empty or "step" not in dis:
        return pd.DataFrame(columns=list(LABEL_STEP_COLUMNS))
    cols = [c for c in LABEL_STEP_COLUMNS if c in dis]
    return dis[dis["step"] == "label"][cols].reset_index(drop=True)
