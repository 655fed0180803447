"""Small-sample and stratified 2x2 statistics: Fisher, Cochran-Mantel-Haenszel, Holm.

Issue 9 of the audit (book chapters 3 and 4): a pooled answer x step table is confounded by the
stratum (CoTemp relation, bAbI task, MARCO query type: the item's ``label``), so every pooled
association is reported beside the CMH test and the Mantel-Haenszel common odds ratio over the
strata (statsmodels ``StratifiedTable``). A table with an expected count below 5 is tested with
Fisher's exact test; a table with an empty margin gets no odds ratio. Families of p-values are
adjusted with Holm's step-down method (``holm``).

Tables are dicts ``{"tt", "tf", "ft", "ff"}`` (first letter = answer correct, second = step
correct), as ``stats.two_by_two`` returns.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .stats import chi2_2x2, two_by_two

CELLS = ("tt", "tf", "ft", "ff")


def _cells(table: Mapping[str, int]) -> tuple[int, int, int, int]:
    a, b, c, d = (int(table[k]) for k in CELLS)
    return a, b, c, d


def min_expected(table: Mapping[str, int]) -> float:
    """Smallest expected cell count under independence (0 for an empty table or margin).

    Examples
    --------
    >>> min_expected({"tt": 10, "tf": 0, "ft": 2, "ff": 8})
    4.0
    """
    a, b, c, d = _cells(table)
    n = a + b + c + d
    if n == 0:
        return 0.0
    rows, cols = (a + b, c + d), (a + c, b + d)
    return min(r * k / n for r in rows for k in cols)


def has_empty_margin(table: Mapping[str, int]) -> bool:
    """True when a row or column of the 2x2 table sums to zero (no odds ratio is defined).

    Examples
    --------
    >>> has_empty_margin({"tt": 3, "tf": 0, "ft": 4, "ff": 0})
    True
    """
    a, b, c, d = _cells(table)
    return min(a + b, c + d, a + c, b + d) == 0


def association(table: Mapping[str, int]) -> dict[str, Any]:
    """The pooled answer x step test: chi-square, or Fisher's exact when an expected count < 5.

    Returns
    -------
    dict
        ``test`` (``chi2``, ``fisher`` or ``none`` for an empty margin), ``p_value`` of that
        test, ``chi2`` and ``p_chi2`` (uncorrected), ``p_fisher`` (always computed), ``phi``,
        ``odds_ratio`` (``None`` when a margin is empty; Haldane-corrected when a cell is 0),
        ``min_expected``.

    Examples
    --------
    >>> r = association({"tt": 3, "tf": 1, "ft": 1, "ff": 3})
    >>> r["test"], round(r["p_value"], 4)
    ('fisher', 0.4857)
    >>> association({"tt": 5, "tf": 5, "ft": 0, "ff": 0})["odds_ratio"] is None
    True
    """
    from scipy.stats import fisher_exact

    a, b, c, d = _cells(table)
    chi = chi2_2x2(table, correction=False)
    empty = has_empty_margin(table)
    p_fisher = float(fisher_exact([[a, b], [c, d]])[1]) if a + b + c + d else float("nan")
    m = min_expected(table)
    test = "none" if empty else ("fisher" if m < 5 else "chi2")
    return {
        "test": test,
        "p_value": {"none": float("nan"), "fisher": p_fisher, "chi2": chi["p_value"]}[test],
        "chi2": chi["statistic"],
        "p_chi2": chi["p_value"],
        "p_fisher": p_fisher,
        "phi": chi["phi"],
        "odds_ratio": None if empty else chi["odds_ratio"],
        "min_expected": m,
    }


def cmh(tables: Mapping[Any, Mapping[str, int]]) -> dict[str, Any]:
    """Cochran-Mantel-Haenszel test and Mantel-Haenszel common odds ratio over strata.

    Strata with an empty margin carry no information about the association and are dropped
    (``n_strata_used``). Never raises: with no informative stratum ``status`` is ``degenerate``
    and the numbers are NaN.

    Parameters
    ----------
    tables : mapping
        Stratum name -> 2x2 table (``tt``, ``tf``, ``ft``, ``ff``).

    Returns
    -------
    dict
        ``status``, ``n_strata``, ``n_strata_used``, ``n``, ``statistic`` and ``p_value`` (CMH,
        with continuity correction), ``common_or`` with ``common_or_ci``, ``p_homogeneity``
        (Breslow-Day; NaN with one stratum).

    Examples
    --------
    >>> t = {"equal": {"tt": 20, "tf": 10, "ft": 5, "ff": 15},
    ...      "during": {"tt": 8, "tf": 12, "ft": 4, "ff": 16}}
    >>> r = cmh(t)
    >>> r["n_strata_used"], round(r["common_or"], 3)
    (2, 4.182)
    """
    import numpy as np
    from statsmodels.stats.contingency_tables import StratifiedTable

    used = {k: t for k, t in tables.items() if not has_empty_margin(t)}
    out: dict[str, Any] = {
        "status": "degenerate",
        "n_strata": len(tables),
        "n_strata_used": len(used),
        "n": sum(sum(_cells(t)) for t in used.values()),
        "statistic": float("nan"),
        "p_value": float("nan"),
        "common_or": float("nan"),
        "common_or_ci": [float("nan"), float("nan")],
        "p_homogeneity": float("nan"),
    }
    if not used:
        return out
    arr = np.array([[[a, b], [c, d]] for a, b, c, d in map(_cells, used.values())], dtype=float)
    st = StratifiedTable(np.moveaxis(arr, 0, -1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = st.test_null_odds(correction=True)
        lo, hi = st.oddsratio_pooled_confint()
        p_hom = st.test_equal_odds().pvalue if len(used) > 1 else float("nan")
    out.update(
        status="ok",
        statistic=float(test.statistic),
        p_value=float(test.pvalue),
        common_or=float(st.oddsratio_pooled),
        common_or_ci=[float(lo), float(hi)],
        p_homogeneity=float(p_hom),
    )
    return out


def stratified_tables(
    items: Iterable[Mapping[str, Any]], step: str, stratum: str = "label"
) -> dict[Any, dict[str, int]]:
    """Answer x ``step`` 2x2 table per value of ``stratum`` (``stats.two_by_two`` per group).

    Examples
    --------
    >>> its = [{"label": "a", "answer_correct": True, "trace_correct": True},
    ...        {"label": "b", "answer_correct": False, "trace_correct": True}]
    >>> stratified_tables(its, "trace")["b"]["ft"]
    1
    """
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for it in items:
        groups.setdefault(it.get(stratum), []).append(it)
    return {k: two_by_two(g, step) for k, g in sorted(groups.items(), key=lambda kv: str(kv[0]))}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values, in input order (``None``/NaN stay ``None``).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, None])
    [0.03, 0.06, 0.06, None]
    """
    idx = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    out: list[float | None] = [None] * len(p_values)
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: p_values[j])):  # type: ignore[arg-type]
        adj = min(1.0, (m - rank) * float(p_values[i]))  # type: ignore[arg-type]
        running = max(running, adj)
        out[i] = round(running, 12)
    return out
