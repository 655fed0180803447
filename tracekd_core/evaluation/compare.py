"""Paired comparison of two scored runs (``tracekd compare A B``; paper section 6, STYLE 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import RecordError
from ..records import iter_jsonl
from ..registry import ANSWER_SCORERS
from ..seeding import derive_rng
from .stats import bootstrap_diff, mcnemar


def read_items(folder: str | Path) -> list[dict[str, Any]]:
    """The scored items of a ``tracekd score --out DIR`` folder (``DIR/items.jsonl``).

    Raises
    ------
    RecordError
        When the folder holds no ``items.jsonl`` (names the path and the fix).
    """
    path = Path(folder) / "items.jsonl"
    if not path.exists():
        raise RecordError(
            file=str(path),
            line=None,
            field="<file>",
            value=None,
            fix="Not a scored run folder; run `tracekd score --out DIR` first.",
        )
    return [obj for _, obj in iter_jsonl(path)]


def compare_runs(
    items_a: list[dict], items_b: list[dict], *, n_boot: int = 2000, seed: int = 0
) -> list[dict[str, Any]]:
    """One row per metric: accuracies of A and B on paired ids, B - A, bootstrap CI, McNemar.

    Paired comparisons on the same items (STYLE 10; paper section 6): the bootstrap resamples
    problem ids with a seeded ``rng``, McNemar counts the discordant pairs.
    """
    metrics = (
        ["answer_correct"]
        + [f"answer_correct_{m}" for m in ANSWER_SCORERS.names()]
        + ["label_correct", "retrieval_correct", "trace_correct"]
    )
    rows = []
    for key in metrics:
        if not any(key in it for it in items_a) or not any(key in it for it in items_b):
            continue
        mc = mcnemar(items_a, items_b, key=key)
        bd = bootstrap_diff(
            items_a, items_b, key=key, n_boot=n_boot, rng=derive_rng(seed, "compare", key)
        )
        rows.append(
            {
                "metric": key,
                "n": mc["n"],
                "acc_a": mc["acc_a"],
                "acc_b": mc["acc_b"],
                "diff": bd["diff"],
                "lo": bd["lo"],
                "hi": bd["hi"],
                "a_only": mc["a_only"],
                "b_only": mc["b_only"],
                "mcnemar_p": mc["p_value"],
                "exact": mc["exact"],
            }
        )
    return rows
