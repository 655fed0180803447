"""Honest statistics for decoupled evaluation: intervals, 2x2 tests, paired tests, seeds, GLM.

Paper section 6 (the "chi2 < 3.841" near-independence claim and the 28% share) and PAPER_NOTES
section 10 (gaps 1, 2, 5): every rate carries its n and a 95% Wilson interval; each 2x2 table
(answer x step) gets chi-square with and without Yates, phi and the odds ratio with a CI;
conditions on the same items are compared with McNemar and a paired bootstrap; seeds are
summarised by mean, sd and every value; a logistic model with cluster-robust errors relates
answer correctness to trace correctness and the label.

Items are the dicts of ``score.score_items``: ``answer_correct`` (bool) and ``<step>_correct``
(bool, or ``None`` when the step was not evaluated).
"""

from __future__ import annotations

import logging
import math
import random
import warnings
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist
from typing import Any

log = logging.getLogger(__name__)

STEPS = ("label", "retrieval", "trace")


def is_unevaluated(v: Any) -> bool:
    """None or NaN (items loaded through pandas carry NaN for unevaluated steps)."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


def wilson_ci(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``.

    Returns ``(0.0, 1.0)`` when ``n == 0`` (no information).

    Examples
    --------
    >>> lo, hi = wilson_ci(5, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.2366, 0.7634)
    """
    if n <= 0:
        return 0.0, 1.0
    z = _z(alpha)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exact bounds, no rounding residue
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def rate(k: int, n: int, alpha: float = 0.05) -> dict[str, Any]:
    """``{"k", "n", "rate", "lo", "hi"}``; ``rate`` is ``None`` when ``n == 0``.

    Examples
    --------
    >>> rate(3, 4)["rate"]
    0.75
    """
    lo, hi = wilson_ci(k, n, alpha)
    return {"k": int(k), "n": int(n), "rate": (k / n) if n else None, "lo": lo, "hi": hi}


def two_by_two(items: Iterable[Mapping[str, Any]], step: str) -> dict[str, int]:
    """Answer x step counts: first letter = answer correct, second = step correct.

    Examples
    --------
    >>> two_by_two([{"answer_correct": True, "trace_correct": False},
    ...             {"answer_correct": False, "trace_correct": None}], "trace")
    {'tt': 0, 'tf': 1, 'ft': 0, 'ff': 0, 'unevaluated': 1}
    """
    t = {"tt": 0, "tf": 0, "ft": 0, "ff": 0, "unevaluated": 0}
    for it in items:
        s = it.get(f"{step}_correct")
        if is_unevaluated(s):
            t["unevaluated"] += 1
            continue
        t[("t" if it["answer_correct"] else "f") + ("t" if s else "f")] += 1
    return t


def odds_ratio(table: Mapping[str, int], alpha: float = 0.05) -> dict[str, Any]:
    """Sample odds ratio ``tt*ff / (tf*ft)`` with a Woolf (log) interval.

    A zero cell adds 0.5 to every cell (Haldane-Anscombe) and says so in ``corrected``.

    Examples
    --------
    >>> round(odds_ratio({"tt": 10, "tf": 5, "ft": 5, "ff": 10})["odds_ratio"], 3)
    4.0
    """
    a, b, c, d = (float(table[k]) for k in ("tt", "tf", "ft", "ff"))
    corrected = min(a, b, c, d) == 0
    if corrected:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    orr = a * d / (b * c)
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    z = _z(alpha)
    return {
        "odds_ratio": orr,
        "lo": math.exp(math.log(orr) - z * se),
        "hi": math.exp(math.log(orr) + z * se),
        "corrected": corrected,
    }


def chi2_2x2(table: Mapping[str, int], correction: bool) -> dict[str, Any]:
    """Chi-square test of independence of a 2x2 table (scipy), with phi and the odds ratio.

    Parameters
    ----------
    table : mapping
        ``tt``, ``tf``, ``ft``, ``ff`` counts (``unevaluated`` is ignored).
    correction : bool
        Apply Yates' continuity correction.

    Returns
    -------
    dict
        ``statistic``, ``p_value``, ``dof``, ``phi`` (signed, from the uncorrected table),
        ``odds_ratio``, ``odds_ratio_ci``, ``n``, ``status`` (``ok`` or ``degenerate`` when a row
        or column is empty: statistic and p-value are then NaN and the odds ratio ``None``).

    Examples
    --------
    >>> r = chi2_2x2({"tt": 10, "tf": 5, "ft": 5, "ff": 10}, correction=False)
    >>> round(r["statistic"], 4), round(r["phi"], 4)
    (3.3333, 0.3333)
    """
    from scipy.stats import chi2_contingency

    a, b, c, d = (int(table[k]) for k in ("tt", "tf", "ft", "ff"))
    n = a + b + c + d
    margins = (a + b, c + d, a + c, b + d)
    orr = odds_ratio(table)
    out: dict[str, Any] = {
        "n": n,
        "dof": 1,
        "odds_ratio": orr["odds_ratio"],
        "odds_ratio_ci": [orr["lo"], orr["hi"]],
        "correction": correction,
    }
    if n == 0 or min(margins) == 0:  # an empty margin: no test and no odds ratio (issue 9)
        out.update(
            statistic=float("nan"),
            p_value=float("nan"),
            phi=float("nan"),
            status="degenerate",
            odds_ratio=None,
            odds_ratio_ci=[None, None],
        )
        return out
    res = chi2_contingency([[a, b], [c, d]], correction=correction)
    phi = (a * d - b * c) / math.sqrt(math.prod(margins))
    out.update(
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        dof=int(res.dof),
        phi=phi,
        status="ok",
    )
    return out


def conditional_accuracy(items: Iterable[Mapping[str, Any]], step: str) -> dict[str, Any]:
    """P(answer correct | step correct) and P(answer correct | step wrong), with Wilson CIs.

    Also the share of *all* items with both a correct step and a correct answer (the paper's
    "28%" for the whole trace), whose denominator includes unevaluated items.

    Examples
    --------
    >>> r = conditional_accuracy([{"answer_correct": True, "label_correct": True},
    ...                           {"answer_correct": False, "label_correct": True},
    ...                           {"answer_correct": True, "label_correct": False}], "label")
    >>> r["given_correct"]["rate"], r["given_wrong"]["rate"]
    (0.5, 1.0)
    """
    items = list(items)
    t = two_by_two(items, step)
    return {
        "given_correct": rate(t["tt"], t["tt"] + t["ft"]),
        "given_wrong": rate(t["tf"], t["tf"] + t["ff"]),
        "both_correct_share": rate(t["tt"], len(items)),
    }


def _paired(
    items_a: Sequence[Mapping[str, Any]], items_b: Sequence[Mapping[str, Any]], key: str
) -> list[tuple[bool, bool]]:
    b_by_id = {it["id"]: it for it in items_b}
    pairs = []
    for it in items_a:
        other = b_by_id.get(it["id"])
        if other is None or is_unevaluated(it.get(key)) or is_unevaluated(other.get(key)):
            continue
        pairs.append((bool(it[key]), bool(other[key])))
    return pairs


def mcnemar(
    items_a: Sequence[Mapping[str, Any]],
    items_b: Sequence[Mapping[str, Any]],
    *,
    key: str = "answer_correct",
) -> dict[str, Any]:
    """McNemar test of ``key`` on items paired by id (statsmodels; exact when b + c < 25).

    Returns
    -------
    dict
        ``n`` (pairs), ``both``, ``a_only``, ``b_only``, ``neither``, ``acc_a``, ``acc_b``,
        ``diff`` (b - a), ``statistic``, ``p_value``, ``exact``.

    Examples
    --------
    >>> a = [{"id": str(i), "answer_correct": i < 6} for i in range(10)]
    >>> b = [{"id": str(i), "answer_correct": i < 2} for i in range(10)]
    >>> r = mcnemar(a, b)
    >>> r["a_only"], r["b_only"], round(r["p_value"], 4)
    (4, 0, 0.125)
    """
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    pairs = _paired(items_a, items_b, key)
    both = sum(a and b for a, b in pairs)
    a_only = sum(a and not b for a, b in pairs)
    b_only = sum(b and not a for a, b in pairs)
    neither = len(pairs) - both - a_only - b_only
    n = len(pairs)
    exact = (a_only + b_only) < 25
    if a_only + b_only == 0:
        stat, p = 0.0, 1.0
    else:
        res = sm_mcnemar([[both, a_only], [b_only, neither]], exact=exact, correction=True)
        stat, p = float(res.statistic), float(res.pvalue)
    return {
        "n": n,
        "both": both,
        "a_only": a_only,
        "b_only": b_only,
        "neither": neither,
        "acc_a": (both + a_only) / n if n else None,
        "acc_b": (both + b_only) / n if n else None,
        "diff": (b_only - a_only) / n if n else None,
        "statistic": stat,
        "p_value": p,
        "exact": exact,
    }


def bootstrap_diff(
    items_a: Sequence[Mapping[str, Any]],
    items_b: Sequence[Mapping[str, Any]],
    *,
    rng: random.Random | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    key: str = "answer_correct",
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Paired percentile bootstrap of the accuracy difference ``b - a`` over shared ids.

    Parameters
    ----------
    rng : random.Random, optional
        Source of randomness (e.g. ``seeding.derive_rng(seed, "bootstrap")``); when omitted a
        ``random.Random(seed)`` is used.

    Examples
    --------
    >>> a = [{"id": str(i), "answer_correct": i < 6} for i in range(10)]
    >>> b = [{"id": str(i), "answer_correct": i < 2} for i in range(10)]
    >>> r = bootstrap_diff(a, b, seed=0, n_boot=200)
    >>> r["diff"], r["lo"] <= r["diff"] <= r["hi"]
    (-0.4, True)
    """
    import numpy as np

    rng = rng if rng is not None else random.Random(seed)
    pairs = _paired(items_a, items_b, key)
    n = len(pairs)
    if n == 0:
        return {"n": 0, "n_boot": n_boot, "diff": None, "lo": None, "hi": None}
    d = np.array([float(b) - float(a) for a, b in pairs])
    gen = np.random.default_rng(rng.getrandbits(63))
    idx = gen.integers(0, n, size=(n_boot, n))
    boots = d[idx].mean(axis=1)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return {"n": n, "n_boot": n_boot, "diff": float(d.mean()), "lo": float(lo), "hi": float(hi)}


def seed_spread(values_by_seed: Mapping[Any, float]) -> dict[str, Any]:
    """Mean, sample sd (ddof=1; 0 for one seed) and each seed's value.

    Examples
    --------
    >>> seed_spread({0: 0.4, 1: 0.5, 2: 0.6})["sd"]
    0.1
    """
    vals = [float(v) for v in values_by_seed.values()]
    n = len(vals)
    mean = sum(vals) / n if n else float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
    return {
        "n": n,
        "mean": mean,
        "sd": round(sd, 12),
        "values": {str(k): float(v) for k, v in values_by_seed.items()},
    }


def logistic_model(items_df: Any, *, cluster: str = "id", step: str = "trace") -> dict[str, Any]:
    """Logit GLM of answer correctness on step correctness and label, cluster-robust errors.

    ``answer_correct ~ <step>_correct + C(label)`` (binomial GLM, statsmodels), with standard
    errors clustered on ``cluster`` (problem id, or seed when pooling seeds). Rows whose step is
    unevaluated are dropped. Never raises on degenerate data: ``status`` is ``ok``,
    ``degenerate`` (constant outcome or predictor, or too few rows) or ``separation``.

    Parameters
    ----------
    items_df : pandas.DataFrame or list of dict
        Needs ``answer_correct``, ``<step>_correct``, ``label`` and the ``cluster`` column.

    Examples
    --------
    >>> rows = [{"id": str(i), "label": "equal", "answer_correct": i % 3 == 0,
    ...          "trace_correct": i % 2 == 0} for i in range(40)]
    >>> res = logistic_model(rows)
    >>> res["status"], res["n"]
    ('ok', 40)
    >>> logistic_model(rows[:1])["status"]
    'degenerate'
    """
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    df = items_df if isinstance(items_df, pd.DataFrame) else pd.DataFrame(list(items_df))
    col = f"{step}_correct"
    base = {
        "status": "degenerate",
        "n": 0,
        "formula": None,
        "cluster": cluster,
        "params": {},
        "bse": {},
        "pvalues": {},
        "odds_ratios": {},
    }
    need = {"answer_correct", col, "label", cluster}
    if df.empty or not need <= set(df.columns):
        return base
    df = df[df[col].notna() & df["answer_correct"].notna()].copy()
    base["n"] = int(len(df))
    if len(df) < 3:
        return base
    df["y"] = df["answer_correct"].astype(bool).astype(int)
    df["x"] = df[col].astype(bool).astype(int)
    if df["y"].nunique() < 2 or df["x"].nunique() < 2:
        return base
    formula = "y ~ x + C(label)" if df["label"].nunique() > 1 else "y ~ x"
    base["formula"] = formula.replace("x", col, 1).replace("y", "answer_correct", 1)
    groups = pd.factorize(df[cluster])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = smf.glm(formula, data=df, family=sm.families.Binomial()).fit(
                cov_type="cluster", cov_kwds={"groups": groups}
            )
        except Exception as e:  # statsmodels raises several types on separation/singularity
            log.warning("logistic_model: fit failed (%s: %s)", type(e).__name__, e)
            base["status"] = "separation"
            return base
    params = fit.params.rename(index={"x": col})
    bse = fit.bse.rename(index={"x": col})
    pvals = fit.pvalues.rename(index={"x": col})
    finite = np.isfinite(params).all() and np.isfinite(bse).all()
    status = "ok" if finite and (params.abs() < 15).all() else "separation"
    return {
        "status": status,
        "n": base["n"],
        "formula": base["formula"],
        "cluster": cluster,
        "params": params.to_dict(),
        "bse": bse.to_dict(),
        "pvalues": pvals.to_dict(),
        "odds_ratios": np.exp(params.clip(-50, 50)).to_dict(),
    }
