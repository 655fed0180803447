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


def pooled_association(
    rows: Any,
    step: str,
    *,
    stratum: str | None = "label",
    metric: str = "answer_correct",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """One answer x ``step`` association over all seeds: a GEE on problem id (issue 9).

    Seeds answer the same problems, so their rows are repeated measures: a binomial GEE
    (statsmodels ``GEE``, exchangeable working correlation, groups = problem id) of
    ``answer_correct ~ <step>_correct + C(stratum)`` on every evaluated (problem, seed) row. The
    stratum fixed effects (CoTemp relation, bAbI task, MARCO query type) remove the confounding
    a pooled table carries; strata whose answers are all right or all wrong carry no information
    on the step and are dropped (``n_strata_used``), as in a conditional logit.

    Returns
    -------
    dict
        ``n`` (rows used), ``n_problems``, ``n_seeds``, ``n_strata_used``, ``odds_ratio`` (exp of
        the step coefficient) with ``or_lo``/``or_hi`` (robust 95% CI), ``p_value`` (robust Wald),
        ``status``: ``ok``; ``degenerate`` (a margin of the pooled table is empty: no odds
        ratio); ``separation`` (a cell is empty, so the odds ratio is infinite and no Wald test
        is valid); ``failed`` (the fit did not converge); ``enough_seeds`` (``MIN_SEEDS``);
        ``cov_struct`` (``exchangeable``, or ``independence`` when the exchangeable fit is
        singular, e.g. identical seeds).

    Examples
    --------
    >>> rows = [{"id": str(i), "seed": s, "label": "a" if i % 2 else "b",
    ...          "label_correct": i % 3 != 0, "answer_correct": (i % 3 != 0) != (i % 7 == 0)}
    ...         for i in range(60) for s in range(3)]
    >>> r = pooled_association(rows, "label")
    >>> r["status"], r["n_seeds"], r["enough_seeds"], r["odds_ratio"] > 1, r["p_value"] < 0.05
    ('ok', 3, True, True, True)
    """
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from scipy.stats import norm

    from .stratified import has_empty_margin

    col = f"{step}_correct"
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    keep = [c for c in ("id", "seed", metric, col, stratum) if c and c in df]
    df = df[keep].copy() if col in df and metric in df else pd.DataFrame(columns=keep)
    df = df[df[col].notna() & df[metric].notna()] if len(df) else df
    if "seed" not in df:
        df["seed"] = 0
    seeds = sorted(set(df["seed"]) - {-1})
    out: dict[str, Any] = {
        "step": step,
        "n": int(len(df)),
        "n_problems": int(df["id"].nunique()) if len(df) else 0,
        "n_seeds": len(seeds),
        "n_strata_used": 0,
        "odds_ratio": None,
        "or_lo": None,
        "or_hi": None,
        "p_value": None,
        "status": "degenerate",
        "enough_seeds": len(seeds) >= MIN_SEEDS,
        "cov_struct": None,
    }
    if df.empty:
        return out
    y = df[metric].astype(bool)
    x = df[col].astype(bool)
    table = {"tt": int((y & x).sum()), "tf": int((y & ~x).sum())}
    table.update(ft=int((~y & x).sum()), ff=int((~y & ~x).sum()))
    if has_empty_margin(table):
        return out
    if min(table.values()) == 0:
        out["status"] = "separation"
        return out
    df = df.assign(y=y.astype(float), x=x.astype(float))
    formula = "y ~ x"
    if stratum and stratum in df:
        informative = df.groupby(stratum)["y"].transform(lambda v: 0 < v.mean() < 1)
        df = df[informative.astype(bool)]
        out["n_strata_used"] = int(df[stratum].nunique())
        if df.empty or df["x"].nunique() < 2:
            return out
        if out["n_strata_used"] > 1:
            formula += f" + C({stratum})"
    out["n"] = int(len(df))
    b = se = p = float("nan")
    for name, structure in (("exchangeable", sm.cov_struct.Exchangeable), ("independence", None)):
        # identical seeds make the exchangeable correlation 1 (singular): fall back to
        # independence, whose cluster-robust errors are still valid for repeated measures
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = smf.gee(
                    formula,
                    groups=pd.factorize(df["id"])[0],
                    data=df.reset_index(drop=True),
                    family=sm.families.Binomial(),
                    cov_struct=(structure or sm.cov_struct.Independence)(),
                ).fit()
                b, se, p = float(fit.params["x"]), float(fit.bse["x"]), float(fit.pvalues["x"])
            except Exception as e:  # singular design, no convergence
                log.info("pooled_association(%s, %s): %s: %s", step, name, type(e).__name__, e)
                continue
        if np.isfinite(b) and np.isfinite(se) and np.isfinite(p) and se > 0:
            out["cov_struct"] = name
            break
    else:
        log.warning("pooled_association(%s): the GEE did not fit", step)
        out["status"] = "failed"
        return out
    z = float(norm.ppf(1 - alpha / 2))
    out.update(
        status="ok",
        odds_ratio=float(np.exp(b)),
        or_lo=float(np.exp(b - z * se)),
        or_hi=float(np.exp(b + z * se)),
        p_value=p,
    )
    return out


def association_verdict(res: dict[str, Any], alpha: float = 0.05, p_key: str = "p_value") -> str:
    """Plain words for a pooled step x answer association, or why there is none.

    Examples
    --------
    >>> association_verdict({"enough_seeds": False, "status": "ok", "p_value": 0.01})
    'not enough seeds for a verdict'
    >>> association_verdict({"enough_seeds": True, "status": "ok", "p_value": 0.01,
    ...                      "odds_ratio": 2.0})
    'associated (OR > 1)'
    """
    if not res.get("enough_seeds"):
        return "not enough seeds for a verdict"
    if res.get("status") != "ok" or res.get(p_key) is None or _isna(res.get(p_key)):
        return f"no test possible ({res.get('status')})"
    if res[p_key] >= alpha:
        return "no significant association"
    return "associated (OR > 1)" if res["odds_ratio"] > 1 else "associated (OR < 1)"


def _isna(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)
