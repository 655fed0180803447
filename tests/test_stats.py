"""Statistics tests; every expected number is computed by hand in the comments."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from tracekd_core.evaluation.stats import (
    bootstrap_diff,
    chi2_2x2,
    conditional_accuracy,
    logistic_model,
    mcnemar,
    odds_ratio,
    rate,
    seed_spread,
    two_by_two,
    wilson_ci,
)

Z = 1.959963984540054


def _items(tt, tf, ft, ff, unevaluated=0, step="trace"):
    rows = (
        [(True, True)] * tt
        + [(True, False)] * tf
        + [(False, True)] * ft
        + [(False, False)] * ff
        + [(True, None)] * unevaluated
    )
    return [
        {"id": str(i), "label": "equal", "answer_correct": a, f"{step}_correct": s}
        for i, (a, s) in enumerate(rows)
    ]


def test_two_by_two_counts():
    items = _items(3, 2, 1, 4, unevaluated=5, step="label")
    assert two_by_two(items, "label") == {"tt": 3, "tf": 2, "ft": 1, "ff": 4, "unevaluated": 5}
    # NaN (items read back through pandas) is unevaluated too
    items.append({"id": "n", "answer_correct": False, "label_correct": float("nan")})
    assert two_by_two(items, "label")["unevaluated"] == 6


def test_wilson_by_hand():
    # k = 0: lo = 0, hi = z^2 / (n + z^2)
    lo, hi = wilson_ci(0, 10)
    assert lo == 0.0 and hi == pytest.approx(Z**2 / (10 + Z**2))
    # k = n: mirror image
    lo, hi = wilson_ci(10, 10)
    assert hi == 1.0 and lo == pytest.approx(10 / (10 + Z**2))
    # k = 5, n = 10: centre 0.5, half = z sqrt(0.025 + z^2/400) / (1 + z^2/10)
    lo, hi = wilson_ci(5, 10)
    half = Z * math.sqrt(0.025 + Z**2 / 400) / (1 + Z**2 / 10)
    assert (lo, hi) == (pytest.approx(0.5 - half), pytest.approx(0.5 + half))
    assert wilson_ci(0, 0) == (0.0, 1.0)
    assert rate(0, 0)["rate"] is None
    r = rate(7, 20)
    assert r["k"] == 7 and r["n"] == 20 and r["rate"] == 0.35 and r["lo"] < 0.35 < r["hi"]


def test_chi2_by_hand():
    # tt 10, tf 5, ft 5, ff 10: every expected count is 7.5, |O - E| = 2.5
    t = {"tt": 10, "tf": 5, "ft": 5, "ff": 10}
    plain = chi2_2x2(t, correction=False)
    assert plain["statistic"] == pytest.approx(4 * 2.5**2 / 7.5)  # 3.3333
    assert plain["p_value"] == pytest.approx(math.erfc(math.sqrt(plain["statistic"] / 2)))
    yates = chi2_2x2(t, correction=True)
    assert yates["statistic"] == pytest.approx(4 * 2.0**2 / 7.5)  # (2.5 - 0.5)^2
    assert yates["p_value"] > plain["p_value"]
    # phi = (ad - bc) / sqrt(r1 r2 c1 c2) = (100 - 25) / 15^2
    assert plain["phi"] == pytest.approx(75 / 225)
    assert plain["phi"] ** 2 == pytest.approx(plain["statistic"] / 30)
    assert plain["odds_ratio"] == pytest.approx(4.0)
    se = math.sqrt(1 / 10 + 1 / 5 + 1 / 5 + 1 / 10)
    assert plain["odds_ratio_ci"] == [
        pytest.approx(math.exp(math.log(4) - Z * se)),
        pytest.approx(math.exp(math.log(4) + Z * se)),
    ]
    assert plain["dof"] == 1 and plain["n"] == 30 and plain["status"] == "ok"


def test_chi2_asymmetric_by_hand():
    # tt 20, tf 10, ft 5, ff 15 (n 50); rows 30/20, cols 25/25 -> E = 15, 15, 10, 10
    t = {"tt": 20, "tf": 10, "ft": 5, "ff": 15}
    stat = 25 / 15 + 25 / 15 + 25 / 10 + 25 / 10
    assert chi2_2x2(t, correction=False)["statistic"] == pytest.approx(stat)
    yates = 4.5**2 / 15 * 2 + 4.5**2 / 10 * 2
    assert chi2_2x2(t, correction=True)["statistic"] == pytest.approx(yates)
    assert chi2_2x2(t, correction=False)["phi"] == pytest.approx(250 / math.sqrt(30 * 20 * 25 * 25))


def test_chi2_degenerate_and_zero_cells():
    d = chi2_2x2({"tt": 5, "tf": 0, "ft": 3, "ff": 0}, correction=False)
    assert d["status"] == "degenerate" and math.isnan(d["statistic"])
    z = odds_ratio({"tt": 4, "tf": 0, "ft": 2, "ff": 6})
    assert z["corrected"] and z["odds_ratio"] == pytest.approx(4.5 * 6.5 / (0.5 * 2.5))


def test_conditional_accuracy():
    items = _items(6, 2, 3, 9, unevaluated=4)
    c = conditional_accuracy(items, "trace")
    assert c["given_correct"]["k"] == 6 and c["given_correct"]["n"] == 9
    assert c["given_wrong"]["k"] == 2 and c["given_wrong"]["n"] == 11
    # the paper's "correct trace and correct answer" share is over all items (incl. unevaluated)
    assert c["both_correct_share"]["rate"] == pytest.approx(6 / 24)


def _pair(a_flags, b_flags, key="answer_correct"):
    a = [{"id": str(i), key: f} for i, f in enumerate(a_flags)]
    b = [{"id": str(i), key: f} for i, f in enumerate(b_flags)]
    return a, b


def test_mcnemar_exact_by_hand():
    # 4 discordant pairs all favour A: exact two-sided binomial p = 2 * 0.5^4
    a, b = _pair([True] * 6 + [False] * 4, [True] * 2 + [False] * 8)
    r = mcnemar(a, b)
    assert (r["both"], r["a_only"], r["b_only"], r["neither"]) == (2, 4, 0, 4)
    assert r["exact"] and r["p_value"] == pytest.approx(0.125)
    assert r["diff"] == pytest.approx(-0.4)


def test_mcnemar_chi2_by_hand():
    # b = 30, c = 10: (|b - c| - 1)^2 / (b + c) = 361 / 40
    a, b = _pair([True] * 30 + [False] * 10 + [True] * 5, [False] * 30 + [True] * 10 + [True] * 5)
    r = mcnemar(a, b)
    assert not r["exact"]
    assert r["statistic"] == pytest.approx(361 / 40)
    assert r["p_value"] == pytest.approx(math.erfc(math.sqrt(361 / 40 / 2)))


def test_mcnemar_pairs_on_ids_only():
    a = [{"id": "x", "answer_correct": True}, {"id": "y", "answer_correct": True}]
    b = [{"id": "y", "answer_correct": False}, {"id": "z", "answer_correct": False}]
    r = mcnemar(a, b)
    assert r["n"] == 1 and r["a_only"] == 1
    assert mcnemar(a, a)["p_value"] == 1.0


def test_bootstrap_diff():
    a, b = _pair([True] * 6 + [False] * 4, [True] * 2 + [False] * 8)
    r1 = bootstrap_diff(a, b, rng=random.Random(1), n_boot=500)
    r2 = bootstrap_diff(a, b, rng=random.Random(1), n_boot=500)
    assert r1 == r2 and r1["diff"] == pytest.approx(-0.4) and r1["lo"] <= -0.4 <= r1["hi"]
    assert r1["hi"] <= 0.0  # A is never worse on any pair
    same = bootstrap_diff(a, a, seed=3, n_boot=100)
    assert same["lo"] == same["hi"] == 0.0
    assert bootstrap_diff(a, [], seed=0)["diff"] is None


def test_seed_spread():
    s = seed_spread({0: 0.4, 1: 0.5, 2: 0.6})
    assert s["mean"] == pytest.approx(0.5) and s["sd"] == pytest.approx(0.1)
    assert s["values"] == {"0": 0.4, "1": 0.5, "2": 0.6}
    assert seed_spread({7: 0.3})["sd"] == 0.0


def _logit_rows(n=200, seed=0):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        trace = rng.random() < 0.5
        label = ("equal", "during")[i % 2]
        p = 0.7 if trace else 0.3
        rows.append(
            {
                "id": f"p{i % 50}",
                "label": label,
                "trace_correct": trace,
                "answer_correct": rng.random() < p,
            }
        )
    return rows


def test_logistic_model_recovers_direction():
    res = logistic_model(pd.DataFrame(_logit_rows()), cluster="id")
    assert res["status"] == "ok" and res["n"] == 200
    assert "C(label)" in res["formula"]
    assert res["params"]["trace_correct"] > 0 and res["pvalues"]["trace_correct"] < 0.05
    assert res["odds_ratios"]["trace_correct"] == pytest.approx(
        math.exp(res["params"]["trace_correct"])
    )


def test_logistic_model_never_crashes():
    rows = _logit_rows(60)
    sep = [dict(r, answer_correct=r["trace_correct"]) for r in rows]  # perfect separation
    assert logistic_model(sep)["status"] in ("separation", "degenerate")
    const = [dict(r, answer_correct=True) for r in rows]
    assert logistic_model(const)["status"] == "degenerate"
    none = [dict(r, trace_correct=None) for r in rows]
    assert logistic_model(none)["status"] == "degenerate"
    assert logistic_model([])["status"] == "degenerate"
    one_label = [dict(r, label="equal") for r in rows]
    assert "C(label)" not in logistic_model(one_label)["formula"]


def test_no_odds_ratio_for_an_empty_margin():
    """Issue 9: a table with an empty row or column has no test and no odds ratio."""
    r = chi2_2x2({"tt": 6, "tf": 2, "ft": 0, "ff": 0}, correction=False)  # no wrong answer
    assert r["status"] == "degenerate" and r["odds_ratio"] is None
    assert r["odds_ratio_ci"] == [None, None] and math.isnan(r["p_value"])
    ok = chi2_2x2({"tt": 6, "tf": 2, "ft": 1, "ff": 3}, correction=False)
    assert ok["odds_ratio"] == pytest.approx(9.0)  # 6*3 / (2*1), no empty margin
