"""``tracekd bench score``: parse + both scorers + summary on N synthetic items, timed."""

from __future__ import annotations

import platform
import time
from typing import Any

from ..datasets.cotemp import LABELS
from ..evaluation.score import score_items, summarize
from ..records import Problem
from ..runio import package_version
from ..seeding import derive_rng


def bench_items(n: int, seed: int = 0) -> tuple[list, list[dict]]:
    """``n`` synthetic CoTemp-like problems and varied outputs (ok, wrong, vanilla, truncated)."""
    rng = derive_rng(seed, "bench", "score")
    head = "The temporal relation between the event in question and the event in context is: "
    problems, preds = [], []
    for i in range(n):
        person = f"Person {i}"
        roles = [f"Role {rng.randrange(200)} of Place {j}" for j in range(12)]
        facts = [
            f"{person} holds the position of {r} from {1950 + j} to {1960 + j}."
            for j, r in enumerate(roles)
        ]
        gold = rng.randrange(1, 12)
        label = LABELS[i % 4]
        problems.append(
            Problem(
                id=f"bench-{i}",
                dataset="cotemp",
                split="test",
                label=label,
                support=[gold],
                question=f"While {person} was holding the position of {roles[0]}, which position "
                f"did {person} hold within the same time interval?",
                context=facts,
                answers=[roles[gold]],
                meta={"triple_element": "S1_R1_O2"},
            )
        )
        pick = gold if rng.random() < 0.6 else rng.randrange(12)
        trace = (
            f"{head}{rng.choice(LABELS)}.\nI need to use the following facts to "
            f"answer the question: {[facts[pick]]!r}"
        )
        kind = rng.random()
        if kind < 0.8:
            out = f"assistant\n\n<think>{trace}</think> <answer>{[roles[pick]]!r}</answer>"
        elif kind < 0.9:
            out = repr([roles[pick]])
        else:
            out = f"assistant\n\n<think>{trace[: rng.randrange(len(trace))]}"
        preds.append({"id": f"bench-{i}", "output": out, "n_new_tokens": len(out) // 4})
    return problems, preds


def bench_score(n: int, seed: int = 0) -> dict[str, Any]:
    """Time ``score_items`` and ``summarize`` on ``bench_items(n, seed)``; the result record."""
    problems, preds = bench_items(n, seed)
    t0 = time.perf_counter()
    items = score_items(problems, preds)
    t1 = time.perf_counter()
    summary = summarize(items)
    t2 = time.perf_counter()
    total = t2 - t0
    return {
        "n": n,
        "seconds_score_items": t1 - t0,
        "seconds_summarize": t2 - t1,
        "seconds_total": total,
        "items_per_second": n / total,
        "answer_accuracy": summary["answer_accuracy"],
        "python": platform.python_version(),
        "tracekd_version": package_version(),
    }
