"""The findings page (book root): headline sentences generated from the computed tables.

No number on that page is typed by hand: each sentence is formatted from ``report`` and
``disconnect`` tables of the same grid, so a new build states its own results.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import report, stats
from .conditions import get_condition
from .disconnect import disconnect_table
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


def findings_markdown(items: pd.DataFrame) -> str:
    """Headline results per dataset and student, as markdown sentences."""
    out = []
    for (ds, student), g in items.groupby(["dataset", "student"], sort=True):
        lines = [f"### {ds} — `{student}`"]
        acc = report.rate_table(g, "answer_correct", ["condition"])
        order = {c: i for i, c in enumerate(CONDITION_ORDER)}
        acc = acc.sort_values("condition", key=lambda c: c.map(order)).reset_index(drop=True)
        best = acc.loc[acc["rate"].idxmax()]
        for r in acc.itertuples():
            lines.append(
                f"- {get_condition(r.condition).title}: answer accuracy {_pct(r.rate)} "
                f"(95% CI {_pct(r.lo)}–{_pct(r.hi)}, n = {r.n} over all seeds)"
            )
        lines.append(f"- Best condition: **{get_condition(best['condition']).title}**.")
        conds = set(g["condition"])
        if {"correct", "incorrect"} <= conds:
            pt = report.paired_table(g, baseline="correct", others=["incorrect"], n_boot=1000)
            sig = int((pt["mcnemar_p_value"] < 0.05).sum())
            lines.append(
                f"- Incorrect minus correct traces, paired on the same items: mean difference "
                f"{_pct(pt['diff_diff'].mean())} over {len(pt)} seed(s); McNemar p < 0.05 in "
                f"{sig} of {len(pt)}."
            )
        if "correct" in conds:
            c = g[g["condition"] == "correct"]
            t = stats.two_by_two(c.to_dict("records"), "trace")
            cond = stats.conditional_accuracy(c.to_dict("records"), "trace")
            chi = stats.chi2_2x2(t, correction=True)
            lines.append(
                f"- Correct-trace students: correct trace **and** correct answer for "
                f"{_pct(t['tt'] / len(c))} of test problems (the paper reports 28%); "
                f"P(answer correct | trace correct) = {_pct(cond['given_correct']['rate'])} vs "
                f"P(answer correct | trace wrong) = {_pct(cond['given_wrong']['rate'])}; "
                f"chi-square (Yates) = {chi['statistic']:.2f}, p = {chi['p_value']:.3g}, "
                f"phi = {chi['phi']:.2f}; {t['unevaluated']} outputs had no evaluable trace."
            )
        out.append("\n".join(lines))
    return "\n\n".join(out)


__all__ = ["disconnect_table", "findings_markdown", "profile_blurb"]
