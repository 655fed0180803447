"""Tidy tables for the book (chapters 01-04): load a finished grid and summarise it.

The notebooks are thin: each calls these functions and shows the result. Every table is a tidy
DataFrame (one row per dataset x condition x seed x label x metric), every rate carries its n and
a 95% Wilson interval, and seeds are reported as spread (mean, sd and each seed). Numbers in the
book's prose are read from these tables, never typed.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from .. import runio
from ..config import load_profile
from ..datasets.cotemp import anchor_index
from ..evaluation import stats
from ..evaluation.clustered import cluster_bootstrap_rate, paired_pooled, verdict
from ..evaluation.stratified import holm
from ..experiment.conditions import get_condition
from ..records import iter_jsonl, read_problems
from ..traces.corrupt import corrupt_all


def build_stamp(profile: str) -> str:
    """A one-line markdown stamp: package version, git SHA and profile of this build."""
    return (
        f"*Built from tracekd {runio.package_version()} at git `{runio.git_sha()}` "
        f"with profile `{profile}`.*"
    )


def load_grid(profile: str, root: str | Path = ".") -> tuple[dict[str, Any], pd.DataFrame]:
    """Read ``runs/<profile>/grid.json``: the resolved profile and one row per cell."""
    root = Path(root)
    cfg = load_profile(profile, root / "configs")
    path = runio.profile_dir(root, cfg.name, cfg.runs_root) / "grid.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `tracekd run --profile {profile}` first.")
    index = json.loads(path.read_text())
    cells = pd.DataFrame(index["cells"])
    cells["title"] = cells["condition"].map(lambda c: get_condition(c).title)
    return index, cells


def load_items(cells: pd.DataFrame) -> pd.DataFrame:
    """All scored items of the grid, one row per (cell, problem), with cell columns attached."""
    frames = []
    for cell in cells.itertuples():
        items = pd.DataFrame(obj for _, obj in iter_jsonl(Path(cell.score_dir) / "items.jsonl"))
        items["dataset"] = cell.dataset
        items["student"] = cell.student
        items["condition"] = cell.condition
        items["seed"] = -1 if pd.isna(cell.seed) else int(cell.seed)
        frames.append(items)
    return pd.concat(frames, ignore_index=True)


def rate_table(items: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    """k, n, rate and 95% Wilson CI of boolean column ``metric`` per group (NaN = not evaluated)."""
    rows = []
    for key, g in items.groupby(by, dropna=False, sort=True):
        vals = g[metric].dropna().astype(bool)
        r = stats.rate(int(vals.sum()), int(len(vals)))
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "metric": metric,
                **r,
            }
        )
    return pd.DataFrame(rows)


def seed_spread_table(
    items: pd.DataFrame,
    metric: str = "answer_correct",
    by: tuple[str, ...] = ("dataset", "student", "condition"),
) -> pd.DataFrame:
    """Per group: accuracy of each seed, their mean and sd (seeds as spread, not pooled)."""
    per_seed = rate_table(items, metric, [*by, "seed"])
    rows = []
    for key, g in per_seed.groupby(list(by), sort=True):
        spread = stats.seed_spread(dict(zip(g["seed"], g["rate"], strict=True)))
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "metric": metric,
                "n_per_seed": int(g["n"].iloc[0]),
                "n_seeds": len(g),
                "mean": spread["mean"],
                "sd": spread["sd"],
                "per_seed": ", ".join(f"{v:.3f}" for v in g["rate"]),
            }
        )
    return pd.DataFrame(rows)


def paired_table(
    items: pd.DataFrame,
    baseline: str,
    others: list[str],
    metric: str = "answer_correct",
    n_boot: int = 2000,
) -> pd.DataFrame:
    """McNemar and bootstrap CI of the accuracy difference (other - baseline) on the same items.

    Paired within dataset and seed; direct prompting (seed -1) pairs with every seed.
    """
    rows = []
    for (ds, student), g in items.groupby(["dataset", "student"], sort=True):
        base_all = g[g["condition"] == baseline]
        for other in others:
            oth_all = g[g["condition"] == other]
            for seed in sorted(set(oth_all["seed"]) | set(base_all["seed"]) - {-1}) or [-1]:
                a = base_all[base_all["seed"].isin([seed, -1])]
                b = oth_all[oth_all["seed"].isin([seed, -1])]
                if a.empty or b.empty:
                    continue
                ra = a[["id", metric]].to_dict("records")
                rb = b[["id", metric]].to_dict("records")
                mc = stats.mcnemar(ra, rb, key=metric)
                bd = stats.bootstrap_diff(ra, rb, key=metric, n_boot=n_boot, seed=0)
                rows.append(
                    {
                        "dataset": ds,
                        "student": student,
                        "seed": seed,
                        "baseline": baseline,
                        "other": other,
                        **{f"mcnemar_{k}": v for k, v in mc.items()},
                        **{f"diff_{k}": v for k, v in bd.items()},
                    }
                )
    return pd.DataFrame(rows)


def reference_results() -> pd.DataFrame:
    """The reference study's published accuracies (PAPER_NOTES section 8), as shipped data."""
    with resources.files("tracekd_core.resources").joinpath("reference_results.csv").open() as fh:
        return pd.read_csv(fh)


def reference_confusion() -> pd.DataFrame:
    """The reference's stored trace confusion matrices (PAPER_NOTES 8.5 and 6.2)."""
    with resources.files("tracekd_core.resources").joinpath("reference_confusion.csv").open() as fh:
        return pd.read_csv(fh)


def ours_vs_reference(items: pd.DataFrame) -> pd.DataFrame:
    """Our answer accuracy (mean over seeds, per label and overall) beside the reference's."""
    ours = []
    for by in (["dataset", "student", "condition", "label"], ["dataset", "student", "condition"]):
        t = rate_table(items, "answer_correct", [*by, "seed"])
        agg = (
            t.groupby(by, sort=True)
            .agg(ours_pct=("rate", "mean"), ours_n=("n", "first"), ours_sd=("rate", "std"))
            .reset_index()
        )
        if "label" not in by:
            agg["label"] = "overall"
        ours.append(agg)
    ours_df = pd.concat(ours, ignore_index=True)
    ours_df[["ours_pct", "ours_sd"]] *= 100
    ref = (
        reference_results()
        .query("~condition.str.startswith('teacher_')")  # chapter 5's (teacher_report.py)
        .pivot_table(
            index=["dataset", "condition", "label"], columns="model", values="accuracy_pct"
        )
        .reset_index()
    )
    ref.columns = [
        c if c in ("dataset", "condition", "label") else f"ref_{c}_pct" for c in ref.columns
    ]
    return ours_df.merge(ref, on=["dataset", "condition", "label"], how="left")


def scoring_modes_table(items: pd.DataFrame) -> pd.DataFrame:
    """Answer accuracy under the strict and the reference scorer, side by side per cell group."""
    cols = [c for c in ("answer_correct_strict", "answer_correct_reference") if c in items]
    t = items.groupby(["dataset", "student", "condition"])[cols].mean()
    if len(cols) == 2:
        t["reference_minus_strict"] = t[cols[1]] - t[cols[0]]
    t["n_items"] = items.groupby(["dataset", "student", "condition"]).size()
    return t


def clustered_accuracy_table(
    items: pd.DataFrame, metric: str = "answer_correct", n_boot: int = 2000
) -> pd.DataFrame:
    """Per dataset/student/condition: ``metric`` over all seeds with a problem-clustered CI.

    Seeds are repeated measures of the same problems (``clustered.cluster_bootstrap_rate``
    resamples problems with all their seeds); the per-seed values are shown beside it.
    """

    rows = []
    for (ds, student, cond), g in items.groupby(["dataset", "student", "condition"], sort=True):
        r = cluster_bootstrap_rate(g[["id", "seed", metric]], metric, n_boot=n_boot, seed=0)
        per_seed = g.groupby("seed")[metric].mean()
        spread = stats.seed_spread(per_seed.to_dict())
        rows.append(
            {
                "dataset": ds,
                "student": student,
                "condition": cond,
                "metric": metric,
                "rate": r["rate"],
                "lo": r["lo"],
                "hi": r["hi"],
                "n_problems": r["n_problems"],
                "n_seeds": r["n_seeds"],
                "seed_sd": spread["sd"],
                "per_seed": ", ".join(f"{v:.3f}" for v in per_seed),
            }
        )
    return pd.DataFrame(rows)


#: The study's primary comparison (issue 9): incorrect minus correct traces, strict scoring.
PRIMARY = ("correct", "incorrect")


def pooled_paired_table(
    items: pd.DataFrame,
    baseline: str = "correct",
    others: list[str] | None = None,
    metric: str = "answer_correct",
    n_boot: int = 2000,
) -> pd.DataFrame:
    """One pooled paired test per comparison (other - baseline), over all seeds at once.

    ``clustered.paired_pooled`` on the same problems; the row ``PRIMARY`` (correct vs
    incorrect traces) is the declared primary test, every other row of the table is Holm-adjusted
    as one family (``p_holm``; the primary keeps its raw p). ``verdict`` says "not enough seeds"
    below ``clustered.MIN_SEEDS`` seeds. Conditions absent from the grid are skipped.
    """

    present = set(items["condition"])
    others = [
        c for c in (others or ["vanilla", "incorrect", "label_only", "direct"]) if c in present
    ]
    rows = []
    for (ds, student), g in items.groupby(["dataset", "student"], sort=True):
        a = g[g["condition"] == baseline]
        if a.empty:
            continue
        for other in others:
            b = g[g["condition"] == other]
            if b.empty or other == baseline:
                continue
            r = paired_pooled(
                a[["id", "seed", metric]], b[["id", "seed", metric]], metric, n_boot=n_boot
            )
            rows.append(
                {
                    "dataset": ds,
                    "student": student,
                    "baseline": baseline,
                    "other": other,
                    "primary": (baseline, other) == PRIMARY,
                    **r,
                }
            )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    secondary = ~df["primary"]
    df["p_holm"] = df["p_value"]
    adj = holm([None if pd.isna(p) else float(p) for p in df.loc[secondary, "p_value"]])
    df.loc[secondary, "p_holm"] = adj
    df["verdict"] = [verdict({**r, "p_value": r["p_holm"]}) for r in df.to_dict("records")]
    return df


_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "and",
        "or",
        "what",
        "which",
        "who",
        "whom",
        "where",
        "when",
        "did",
        "does",
        "do",
        "while",
        "same",
        "time",
        "other",
        "else",
        "how",
        "many",
        "much",
        "from",
        "than",
        "that",
        "this",
        "it",
        "its",
        "be",
    ]
)


def _content_words(text: str) -> set[str]:
    import re

    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 1}


def corruption_relevance_table(
    cells: pd.DataFrame, kinds: tuple[str, ...] = ("retrieval", "both", "swap"), seed: int = 0
) -> pd.DataFrame:
    """Per dataset and corruption: how relevant the stated wrong facts are (book chapter 1).

    For the train problems of each dataset: ``shares_question_word`` = share of corrupted traces
    whose stated facts share at least one content word with the question (a distractor sharing
    none is easy to reject); ``absent_from_context`` = share stating a fact that is not in the
    problem's own context (``swap`` states another problem's facts); ``states_anchor`` = share
    stating the CoTemp anchor (the question's own event fact; 0 by construction).
    """

    rows = []
    for path in sorted(set(cells["problems"])):
        probs = [p for p in read_problems(path) if p.split == "train"]
        if not probs:
            continue
        for kind in kinds:
            try:
                traces = corrupt_all(probs, kind, seed=seed)
            except Exception as e:  # noqa: BLE001 - a corruption impossible on this data
                rows.append({"dataset": probs[0].dataset, "corruption": kind, "error": str(e)})
                continue
            share = absent = anchor = n = 0
            for p, t in zip(probs, traces, strict=True):
                stated = [s for s in t.support_text or [] if s.strip()]
                if not stated:
                    continue
                n += 1
                q = _content_words(p.question)
                share += any(_content_words(s) & q for s in stated)
                absent += any(s not in p.context for s in stated)
                k = anchor_index(p)
                anchor += k is not None and p.context[k] in stated
            rows.append(
                {
                    "dataset": probs[0].dataset,
                    "corruption": kind,
                    "n": n,
                    "shares_question_word": share / n if n else None,
                    "absent_from_context": absent / n if n else None,
                    "states_anchor": anchor / n if n else None,
                }
            )
    return pd.DataFrame(rows)
