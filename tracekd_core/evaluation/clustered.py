"""Seeds as repeated measures of the same problems: clustered intervals and pooled paired tests.

Issue 9 of the audit (book chapter 3): every seed of a condition answers the *same* test
problems, so pooling seeds as independent items shrinks intervals and inflates tests (three
identical copies of one run narrow a CI from +-3.2 to +-1.9 points). Here the unit of resampling
is the problem id: ``cluster_bootstrap_rate`` resamples problems with all their seeds;
``paired_pooled`` compares two conditions on the same problems across all seeds with one test
(a binomial GLM of correctness on the condition with problem-clustered errors, plus the
problem-clustered bootstrap of the difference). Seed spread is reported separately
(``stats.seed_spread``). ``MIN_SEEDS`` is the least number of seeds for a verdict sentence.

Rows are dicts or DataFrame rows with ``id``, ``seed`` and a boolean metric column.
"""

from __future__ import annotations

import logging
import random
import warnings
from typing import Any

log = logging.getLogger(__name__)

#: No sentence "X hurts / does not hurt" with fewer seeds than this (issue 9).
MIN_SEEDS = 3


def _frame(rows: Any, metric: str):
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if df.empty or metric not in df:
        return pd.DataFrame(columns=["id", "seed", metric])
    df = df[df[metric].notna()].copy()
    df[metric] = df[metric].astype(bool).astype(float)
    if "seed" not in df:
        df["seed"] = 0
    return df


def cluster_bootstrap_rate(
    rows: Any,
    metric: str = "answer_correct",
    *,
    rng: random.Random | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Mean of ``metric`` over all (problem, seed) rows with a problem-clustered bootstrap CI.

    Problems are resampled with replacement; each drawn problem brings all its seeds.

    Examples
    --------
    >>> rows = [{"id": str(i), "seed": s, "answer_correct": i < 5} for i in range(10)
    ...         for s in range(3)]
    >>> r = cluster_bootstrap_rate(rows, n_boot=500)
    >>> r["rate"], r["n_problems"], r["n_seeds"], r["lo"] < 0.5 < r["hi"]
    (0.5, 10, 3, True)
    """
    import numpy as np

    df = _frame(rows, metric)
    out = {"rate": None, "lo": None, "hi": None, "n": int(len(df)), "n_boot": n_boot}
    out["n_problems"] = int(df["id"].nunique()) if len(df) else 0
    out["n_seeds"] = int(df["seed"].nunique()) if len(df) else 0
    if df.empty:
        return out
    per = df.groupby("id")[metric].agg(["sum", "count"])
    s, c = per["sum"].to_numpy(), per["count"].to_numpy()
    rng = rng if rng is not None else random.Random(seed)
    gen = np.random.default_rng(rng.getrandbits(63))
    idx = gen.integers(0, len(per), size=(n_boot, len(per)))
    boots = s[idx].sum(axis=1) / c[idx].sum(axis=1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    out.update(rate=float(s.sum() / c.sum()), lo=float(lo), hi=float(hi))
    return out


def _enough(n_a: int, n_b: int) -> bool:
    """Both trained conditions have ``MIN_SEEDS`` seeds (an untrained one has 0 and pairs)."""
    trained = [n for n in (n_a, n_b) if n > 0]
    return bool(trained) and all(n >= MIN_SEEDS for n in trained)


def _per_problem(df, metric: str):
    return df.groupby("id")[metric].mean()


def paired_pooled(
    rows_a: Any,
    rows_b: Any,
    metric: str = "answer_correct",
    *,
    rng: random.Random | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """One paired comparison of condition B against A over all seeds (B - A).

    Only problems present in both are used. The difference is the mean over problems of
    (B's accuracy over its seeds - A's accuracy over its seeds), with a problem-clustered
    bootstrap interval; the test is a binomial GLM ``correct ~ is_b`` on all (problem, seed,
    condition) rows with errors clustered by problem id (a GEE-style pooled paired test).
    A condition without seeds (direct prompting, seed -1) pairs with every seed of the other.

    Returns
    -------
    dict
        ``n_problems``, ``n_seeds_a``, ``n_seeds_b``, ``acc_a``, ``acc_b``, ``diff``, ``lo``,
        ``hi``, ``p_value`` (clustered Wald test; ``None`` if degenerate), ``status``
        (``ok``, ``no_difference`` when every pair agrees, ``degenerate``), ``enough_seeds``
        (both conditions have ``MIN_SEEDS`` seeds, or one of them is untrained).

    Examples
    --------
    >>> a = [{"id": str(i), "seed": s, "answer_correct": i < 12} for i in range(20)
    ...      for s in range(3)]
    >>> b = [{"id": str(i), "seed": s, "answer_correct": i < 4} for i in range(20)
    ...      for s in range(3)]
    >>> r = paired_pooled(a, b, n_boot=300)
    >>> round(r["diff"], 2), r["p_value"] < 0.05, r["enough_seeds"]
    (-0.4, True, True)
    """
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    da, db = _frame(rows_a, metric), _frame(rows_b, metric)
    shared = sorted(set(da["id"]) & set(db["id"]))
    da, db = da[da["id"].isin(shared)], db[db["id"].isin(shared)]
    seeds_a = sorted(set(da["seed"]) - {-1})
    seeds_b = sorted(set(db["seed"]) - {-1})
    out: dict[str, Any] = {
        "n_problems": len(shared),
        "n_seeds_a": len(seeds_a),
        "n_seeds_b": len(seeds_b),
        "acc_a": None,
        "acc_b": None,
        "diff": None,
        "lo": None,
        "hi": None,
        "p_value": None,
        "status": "degenerate",
        "enough_seeds": _enough(len(seeds_a), len(seeds_b)),
    }
    if not shared:
        return out
    pa, pb = _per_problem(da, metric), _per_problem(db, metric)
    d = (pb - pa).loc[shared].to_numpy()
    rng = rng if rng is not None else random.Random(seed)
    gen = np.random.default_rng(rng.getrandbits(63))
    boots = d[gen.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    out.update(
        acc_a=float(pa.mean()),
        acc_b=float(pb.mean()),
        diff=float(d.mean()),
        lo=float(lo),
        hi=float(hi),
    )
    if np.all(d == 0):
        out.update(status="no_difference", p_value=1.0)
        return out
    long = pd.concat(
        [da.assign(is_b=0.0)[["id", "is_b", metric]], db.assign(is_b=1.0)[["id", "is_b", metric]]],
        ignore_index=True,
    ).rename(columns={metric: "y"})
    if long["y"].nunique() < 2:
        return out
    groups = pd.factorize(long["id"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = smf.glm("y ~ is_b", data=long, family=sm.families.Binomial()).fit(
                cov_type="cluster", cov_kwds={"groups": groups}
            )
            p = float(fit.pvalues["is_b"])
        except Exception as e:  # separation / singular design
            log.warning("paired_pooled: GLM failed (%s: %s)", type(e).__name__, e)
            return out
    if np.isfinite(p):
        out.update(status="ok", p_value=p)
    return out


def verdict(res: dict[str, Any], alpha: float = 0.05, p_key: str = "p_value") -> str:
    """A plain-words verdict for a pooled paired comparison B - A, or why there is none.

    Examples
    --------
    >>> verdict({"enough_seeds": False, "p_value": 0.001, "diff": -0.1})
    'not enough seeds for a verdict'
    >>> verdict({"enough_seeds": True, "p_value": 0.2, "diff": -0.1})
    'no significant difference'
    >>> verdict({"enough_seeds": True, "p_value": 0.001, "diff": -0.1})
    'lower'
    """
    p = res.get(p_key)
    if not res.get("enough_seeds"):
        return "not enough seeds for a verdict"
    if p is None or res.get("diff") is None:
        return "no test possible"
    if p >= alpha:
        return "no significant difference"
    return "lower" if res["diff"] < 0 else "higher"
