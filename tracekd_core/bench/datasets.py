"""``tracekd bench data``: the synthetic generators of every registered dataset, timed."""

from __future__ import annotations

import time
from typing import Any

from ..config import DataConfig
from ..datasets import make_problems
from ..registry import DATASETS


def bench_generators(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Generate ``n`` problems (80% train) of each dataset; one timing row per dataset."""
    rows = []
    for name in DATASETS.in_order():
        n_train = round(0.8 * n)
        cfg = DataConfig(dataset=name, n_train=n_train, n_test=n - n_train)
        t0 = time.perf_counter()
        problems = make_problems(cfg, seed)
        dt = time.perf_counter() - t0
        rows.append(
            {
                "dataset": name,
                "n": len(problems),
                "seconds": round(dt, 3),
                "problems_per_s": round(len(problems) / dt, 1),
            }
        )
    return rows
