"""Tidy tables of the teacher stage for chapter 5 (paper section 4, PAPER_NOTES 8.3, 10.6-10.8).

Reads the ``teacher`` entry of ``grid.json`` (written by ``teacher_grid.py``): accuracy of every
teacher condition on the common test subset (95% Wilson per seed and a problem-clustered
bootstrap over seeds), trace lengths of the training targets (words, student tokens, examples
cut at ``train.max_length``) and of the generated outputs, truncation rates
(``hit_max_new_tokens``) and accuracy by generated-length bin. Numbers in the chapter's prose
are read from these tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import TEACHER_CONDITIONS
from ..evaluation import stats
from ..experiment.conditions import get_condition
from ..records import iter_jsonl
from ..traces.stated import THINK_CLOSE, THINK_OPEN
from . import tables as report


def stage_summary(index: dict[str, Any]) -> pd.DataFrame:
    """One row per dataset of the teacher stage: status, message and subset sizes."""
    cols = ["dataset", "teacher", "status", "n_train_asked", "n_train_solved", "n_train_subset"]
    cols += ["eval_subset", "n_test_asked", "n_test_solved", "n_test_subset", "message"]
    stage = index.get("teacher") or {}
    rows = [{k: d.get(k) for k in cols} for d in stage.get("datasets", [])]
    return pd.DataFrame(rows, columns=cols)


def teacher_cells(index: dict[str, Any]) -> pd.DataFrame:
    """One row per trained teacher cell (empty frame when the stage trained nothing)."""
    stage = index.get("teacher") or {}
    rows = [c for d in stage.get("datasets", []) for c in d.get("cells", [])]
    cells = pd.DataFrame(rows)
    if not cells.empty:
        cells["title"] = cells["condition"].map(lambda c: get_condition(c).title)
    return cells


def _order(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    df = df.copy()
    df["condition"] = pd.Categorical(df["condition"], TEACHER_CONDITIONS, ordered=True)
    return df.sort_values([c for c in ("dataset", "student", "condition", "seed") if c in df])


def accuracy_table(items: pd.DataFrame, n_boot: int = 2000) -> pd.DataFrame:
    """Answer accuracy per condition: pooled k/n with Wilson CI and a problem-clustered CI.

    ``n`` counts (problem, seed) items; ``n_problems`` the common test subset.
    """
    if items.empty:
        return pd.DataFrame()
    by = ["dataset", "student", "condition"]
    wilson = report.rate_table(items, "answer_correct", by)
    clustered = report.clustered_accuracy_table(items, n_boot=n_boot)
    clustered = clustered.rename(columns={"lo": "clustered_lo", "hi": "clustered_hi"})
    keep = [*by, "clustered_lo", "clustered_hi", "n_problems", "n_seeds", "per_seed"]
    return _order(wilson.merge(clustered[keep], on=by).drop(columns="metric"))


def direct_on_subset(main_cells: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Direct prompting of the main grid, restricted to the teacher stage's common test subset.

    A local teacher that is the student's own base model selects the problems that model already
    answers, so this row shows how much of the subset is solved without any training.
    """
    if cells.empty or main_cells.empty or "direct" not in set(main_cells["condition"]):
        return pd.DataFrame()
    subset = {
        (ds, p["id"])
        for ds, path in set(zip(cells["dataset"], cells["problems"], strict=True))
        for _, p in iter_jsonl(path)
        if p["split"] == "test"
    }
    direct = main_cells[
        (main_cells["condition"] == "direct") & main_cells["dataset"].isin(set(cells["dataset"]))
    ]
    if direct.empty:
        return pd.DataFrame()
    items = report.load_items(direct)
    keep = [(ds, i) in subset for ds, i in zip(items["dataset"], items["id"], strict=True)]
    return report.rate_table(items[keep], "answer_correct", ["dataset", "student", "condition"])


def training_lengths(cells: pd.DataFrame) -> pd.DataFrame:
    """Training-target lengths per condition: trace words/tokens and examples cut at max_length."""
    rows = []
    for (ds, student, cond), g in cells.groupby(["dataset", "student", "condition"], sort=False):
        lens = pd.DataFrame(obj for _, obj in iter_jsonl(g["lengths"].iloc[0]))
        man = json.loads((Path(g["train_dir"].iloc[0]) / "manifest.json").read_text())
        rows.append(
            {
                "dataset": ds,
                "student": student,
                "condition": cond,
                "n_examples": len(lens),
                "trace_words_mean": lens["trace_words"].mean(),
                "trace_tokens_mean": lens["trace_tokens"].mean(),
                "trace_tokens_median": lens["trace_tokens"].median(),
                "trace_tokens_max": int(lens["trace_tokens"].max()),
                "target_tokens_max": int(lens["target_tokens"].max()),
                "n_cut_at_max_length": man.get("n_truncated"),
            }
        )
    return _order(pd.DataFrame(rows))


def _think_words(output: str) -> int:
    head, sep, _ = output.partition(THINK_CLOSE)
    text = head.split(THINK_OPEN, 1)[-1] if THINK_OPEN in head else (head if sep else "")
    return len(text.split())


def generation_items(cells: pd.DataFrame) -> pd.DataFrame:
    """Scored items joined with their generation: ``n_new_tokens``, truncation, trace words."""
    if cells.empty:
        return pd.DataFrame()
    items = report.load_items(cells)
    gens = []
    for cell in cells.itertuples():
        for _, p in iter_jsonl(cell.predictions):
            gens.append(
                {
                    "condition": cell.condition,
                    "student": cell.student,
                    "dataset": cell.dataset,
                    "seed": int(cell.seed),
                    "id": p["id"],
                    "n_new_tokens": p["n_new_tokens"],
                    "hit_max_new_tokens": bool(p["hit_max_new_tokens"]),
                    "gen_trace_words": _think_words(p["output"]),
                }
            )
    keys = ["dataset", "student", "condition", "seed", "id"]
    gens_df = pd.DataFrame(gens)
    gens_df = gens_df[keys + [c for c in gens_df if c not in items.columns]]  # scores may copy some
    return items.merge(gens_df, on=keys)


def generation_lengths(gen: pd.DataFrame) -> pd.DataFrame:
    """Per condition: generated tokens and trace words, truncation rate with its Wilson CI."""
    if gen.empty:
        return pd.DataFrame()
    rows = []
    for (ds, student, cond), g in gen.groupby(["dataset", "student", "condition"], sort=False):
        r = stats.rate(int(g["hit_max_new_tokens"].sum()), len(g))
        rows.append(
            {
                "dataset": ds,
                "student": student,
                "condition": cond,
                "n": r["n"],
                "new_tokens_mean": g["n_new_tokens"].mean(),
                "trace_words_mean": g["gen_trace_words"].mean(),
                "truncated": r["k"],
                "truncation_rate": r["rate"],
                "truncation_lo": r["lo"],
                "truncation_hi": r["hi"],
            }
        )
    return _order(pd.DataFrame(rows))


def accuracy_by_length(gen: pd.DataFrame, n_bins: int = 3) -> pd.DataFrame:
    """Accuracy per condition and generated-length bin (tertiles of ``n_new_tokens``, pooled)."""
    if gen.empty:
        return pd.DataFrame()
    gen = gen.copy()
    codes = pd.qcut(gen["n_new_tokens"].rank(method="first"), q=min(n_bins, len(gen)))
    edges = gen.groupby(codes, observed=True)["n_new_tokens"].agg(["min", "max"])
    names = {k: f"{int(r['min'])}-{int(r['max'])} tokens" for k, r in edges.iterrows()}
    gen["length_bin"] = codes.map(names).astype(str)
    by = ["dataset", "student", "condition", "length_bin"]
    table = _order(report.rate_table(gen, "answer_correct", by))
    # equal lengths give equal labels (one bin); keep each label once, shortest first
    bins = list(dict.fromkeys(names.values()))
    table["length_bin"] = pd.Categorical(table["length_bin"], bins, ordered=True)
    return table.sort_values(by)


def reference_teacher_results() -> pd.DataFrame:
    """The reference's teacher-condition accuracies in ``reference_results.csv`` (if shipped)."""
    ref = report.reference_results()
    return ref[ref["condition"].isin(TEACHER_CONDITIONS)].reset_index(drop=True)


def ours_vs_reference(acc: pd.DataFrame) -> pd.DataFrame:
    """Our overall accuracy per teacher condition beside the reference's (empty if none shipped)."""
    ref = reference_teacher_results()
    if acc.empty or ref.empty:
        return pd.DataFrame()
    ref = ref[ref["label"] == "overall"].pivot_table(
        index=["dataset", "condition"], columns="model", values="accuracy_pct"
    )
    ref.columns = [f"ref_{c}_pct" for c in ref.columns]
    ours = acc.assign(ours_pct=acc["rate"] * 100)[
        ["dataset", "student", "condition", "ours_pct", "n"]
    ]
    ours = ours.assign(condition=ours["condition"].astype(str))
    return ours.merge(ref.reset_index(), on=["dataset", "condition"], how="left")
