"""Figures of the book (seaborn), drawn from the tidy tables of ``report/tables.py``.

Each function takes a DataFrame, returns a matplotlib ``Figure`` and never computes statistics
itself (the tables carry rates and intervals), so what a figure shows is what a table says.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..evaluation.stats import wilson_ci

sns.set_theme(style="whitegrid", context="notebook")

CONDITION_ORDER = [
    "direct",
    "vanilla",
    "label_only",
    "correct",
    "incorrect",
    "incorrect_label",
    "incorrect_retrieval",
    "swapped",
]


def _order(values: pd.Series) -> list[str]:
    present = list(dict.fromkeys(values))
    return [c for c in CONDITION_ORDER if c in present] + [
        c for c in present if c not in CONDITION_ORDER
    ]


def accuracy_bars(
    table: pd.DataFrame,
    *,
    x: str = "condition",
    col: str = "dataset",
    title: str = "Answer accuracy (95% Wilson CI; points = seeds)",
) -> plt.Figure:
    """Bars = mean accuracy over seeds, error bars = pooled Wilson CI, dots = individual seeds.

    ``table`` is ``report.rate_table(items, "answer_correct", [col, x, "seed"])``.
    """
    cols = sorted(table[col].unique())
    fig, axes = plt.subplots(
        1, len(cols), figsize=(4.2 * len(cols), 3.6), squeeze=False, sharey=True
    )
    for ax, c in zip(axes[0], cols, strict=True):
        t = table[table[col] == c]
        order = _order(t[x])
        g = t.groupby(x).agg(k=("k", "sum"), n=("n", "sum"), rate=("rate", "mean")).reindex(order)
        ci = np.array([wilson_ci(int(k), int(n)) for k, n in zip(g["k"], g["n"], strict=True)])
        pos = np.arange(len(order))
        ax.bar(pos, g["rate"], color=sns.color_palette("deep", len(order)), alpha=0.8)
        ax.errorbar(
            pos,
            g["rate"],
            yerr=[g["rate"] - ci[:, 0], ci[:, 1] - g["rate"]],
            fmt="none",
            ecolor="black",
            capsize=3,
        )
        for i, cond in enumerate(order):
            seeds = t[t[x] == cond]["rate"]
            ax.scatter(np.full(len(seeds), i), seeds, color="black", s=10, zorder=3)
        ax.set_xticks(pos, order, rotation=35, ha="right")
        ax.set_title(c)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("answer accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def heatmap_2x2(
    ax: plt.Axes, counts: Mapping[str, int], step: str, *, shares: bool = False
) -> None:
    """Draw one answer x ``step`` table (``tt``, ``tf``, ``ft``, ``ff``) as an annotated heatmap.

    Rows are answer correct / wrong, columns step correct / wrong (paper section 6.2); with
    ``shares`` each cell also shows its share of all evaluated items. The one 2x2 drawing of the
    book (chapter 4 tables and the README headline figure).
    """
    m = np.array([[counts["tt"], counts["tf"]], [counts["ft"], counts["ff"]]])
    if shares:
        annot: Any = np.array([[f"{v}\n{v / max(1, m.sum()):.0%}" for v in row] for row in m])
    else:
        annot = True
    sns.heatmap(
        m,
        annot=annot,
        fmt="" if shares else "d",
        cmap="Blues",
        cbar=False,
        ax=ax,
        xticklabels=[f"{step} ✓", f"{step} ✗"],
        yticklabels=["answer ✓", "answer ✗"],
    )


def confusion_heatmaps(dis: pd.DataFrame, *, title: str = "") -> plt.Figure:
    """The answer x step 2x2 tables (label, retrieval, whole trace) as annotated heatmaps.

    ``dis`` holds rows of ``report.disconnect_table`` for ONE dataset/condition (seeds summed).
    """
    steps = list(dict.fromkeys(dis["step"]))
    fig, axes = plt.subplots(1, len(steps), figsize=(3.6 * len(steps), 3.2), squeeze=False)
    for ax, step in zip(axes[0], steps, strict=True):
        heatmap_2x2(ax, dis[dis["step"] == step][["tt", "tf", "ft", "ff"]].sum(), step)
        ax.set_title(f"answer x {step}")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_by_cell(dis: pd.DataFrame) -> list[plt.Figure]:
    """``confusion_heatmaps`` for every dataset/student/condition of a disconnect table."""
    if dis.empty:
        return []
    return [
        confusion_heatmaps(g, title=f"{ds} / {student} / {cond} (seeds summed)")
        for (ds, student, cond), g in dis.groupby(["dataset", "student", "condition"])
    ]


def headline_figure(dis: pd.DataFrame, condition: str = "correct") -> plt.Figure | None:
    """Answer x whole-trace tables of one condition, one panel per dataset (the README figure).

    Cells show counts and, below, the share of all evaluated items; seeds are summed.
    """
    if dis.empty:
        return None
    d = dis[(dis["condition"] == condition) & (dis["step"] == "trace")]
    if d.empty:
        return None
    keys = list(d.groupby(["dataset", "student"]).groups)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.8 * len(keys), 3.4), squeeze=False)
    for ax, (ds, student) in zip(axes[0], keys, strict=True):
        s = d[(d["dataset"] == ds) & (d["student"] == student)][["tt", "tf", "ft", "ff"]].sum()
        heatmap_2x2(ax, s, "trace", shares=True)
        ax.set_title(f"{ds} ({student})")
    fig.suptitle(f"Answer vs whole-trace correctness, students trained on {condition} traces")
    fig.tight_layout()
    return fig


def loss_curves(losses: pd.DataFrame, *, title: str = "Training loss") -> plt.Figure:
    """Loss per optimiser step, one line per condition, one panel per dataset, seeds as bands."""
    g = sns.relplot(
        data=losses,
        x="step",
        y="loss",
        hue="condition",
        col="dataset",
        kind="line",
        errorbar=("pi", 100),
        height=3.2,
        aspect=1.2,
        hue_order=_order(losses["condition"]),
        facet_kws={"sharey": False},
    )
    g.figure.suptitle(title, y=1.03)
    return g.figure


def save(fig: plt.Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path
