"""Fisher / CMH / Holm against hand computations (issue 9)."""

from __future__ import annotations

import math

import pytest

from tracekd_core.evaluation.stratified import (
    association,
    cmh,
    holm,
    min_expected,
    stratified_tables,
)

T1 = {"tt": 20, "tf": 10, "ft": 5, "ff": 15}  # n 50: ad/n = 6, bc/n = 1
T2 = {"tt": 8, "tf": 12, "ft": 4, "ff": 16}  # n 40: ad/n = 3.2, bc/n = 1.2


def test_mantel_haenszel_common_odds_ratio_by_hand():
    r = cmh({"equal": T1, "during": T2})
    assert r["status"] == "ok" and r["n"] == 90
    assert r["common_or"] == pytest.approx((6 + 3.2) / (1 + 1.2))
    # CMH statistic by hand: sum(a - E[a]) and sum Var(a), continuity-corrected
    e1, e2 = 30 * 25 / 50, 20 * 12 / 40
    v1 = 30 * 20 * 25 * 25 / (50**2 * 49)
    v2 = 20 * 20 * 12 * 28 / (40**2 * 39)
    want = (abs(20 + 8 - e1 - e2) - 0.5) ** 2 / (v1 + v2)
    assert r["statistic"] == pytest.approx(want)


def test_cmh_drops_uninformative_strata_and_never_raises():
    r = cmh({"a": T1, "b": {"tt": 4, "tf": 0, "ft": 3, "ff": 0}})
    assert (r["n_strata"], r["n_strata_used"]) == (2, 1)
    assert r["common_or"] == pytest.approx(6.0)
    empty = cmh({"a": {"tt": 0, "tf": 0, "ft": 0, "ff": 0}})
    assert empty["status"] == "degenerate" and math.isnan(empty["p_value"])


def test_pooled_association_confounded_by_stratum():
    """Two strata with OR 1 each, pooled they look associated (Simpson)."""
    s1 = {"tt": 40, "tf": 40, "ft": 10, "ff": 10}  # mostly correct answers, OR 1
    s2 = {"tt": 10, "tf": 10, "ft": 40, "ff": 40}  # mostly wrong answers, OR 1
    pooled = {k: s1[k] + s2[k] for k in s1}
    assert association(pooled)["p_value"] == pytest.approx(1.0)  # balanced steps: no link
    s2b = {"tt": 2, "tf": 18, "ft": 8, "ff": 72}  # OR 1, rarely step-correct
    pooled_b = {k: s1[k] + s2b[k] for k in s1}
    assert association(pooled_b)["p_value"] < 1e-3
    r = cmh({"s1": s1, "s2": s2b})
    assert r["common_or"] == pytest.approx(1.0) and r["p_value"] > 0.5


def test_fisher_when_expected_below_five_and_no_or_for_empty_margin():
    small = {"tt": 3, "tf": 1, "ft": 1, "ff": 3}
    assert min_expected(small) == 2.0
    r = association(small)
    # hypergeometric by hand: P(a>=3)+P(a<=1) with margins 4,4,4,4 (n 8) = 2*(16+1)/70
    assert r["test"] == "fisher" and r["p_value"] == pytest.approx(34 / 70)
    big = {"tt": 30, "tf": 20, "ft": 20, "ff": 30}
    assert association(big)["test"] == "chi2"
    e = association({"tt": 5, "tf": 3, "ft": 0, "ff": 0})
    assert e["test"] == "none" and e["odds_ratio"] is None and math.isnan(e["p_value"])


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert holm([0.5, float("nan"), 0.001]) == [0.5, None, 0.002]
    assert holm([]) == []


def test_stratified_tables_split_by_label():
    its = [
        {"label": "a", "answer_correct": True, "label_correct": True},
        {"label": "a", "answer_correct": False, "label_correct": None},
        {"label": "b", "answer_correct": False, "label_correct": False},
    ]
    t = stratified_tables(its, "label")
    assert t["a"] == {"tt": 1, "tf": 0, "ft": 0, "ff": 0, "unevaluated": 1}
    assert t["b"]["ff"] == 1


def _grid_rows(n_seeds: int = 3):
    rng = __import__("random").Random(3)
    rows = []
    for cond in ("correct", "incorrect"):
        for i in range(60):
            lab = i % 3 != 0
            ret = rng.random() < 0.5
            for s in range(3):
                ans = lab if rng.random() < 0.8 else not lab
                rows.append(
                    {
                        "dataset": "babi",
                        "student": "s",
                        "condition": cond,
                        "seed": s,
                        "id": f"p{i}",
                        "label": "t1" if i % 2 else "t2",
                        "answer_correct": ans,
                        "label_correct": lab,
                        "retrieval_correct": ret,
                        "trace_correct": lab and ret,
                        "anchor_correct": i % 5 == 0,
                    }
                )
    return [r for r in rows if r["seed"] < n_seeds]


def test_pooled_step_table_primary_raw_and_holm_on_the_rest():
    import pandas as pd

    from tracekd_core.report import disconnect

    t = disconnect.pooled_step_table(pd.DataFrame(_grid_rows()))
    prim = t[t["primary"]]
    assert list(zip(prim["condition"], prim["step"], strict=True)) == [("correct", "label")]
    assert prim["p_holm"].iloc[0] == prim["p_value"].iloc[0]
    rest = t[~t["primary"]]
    assert list(rest["p_holm"]) == pytest.approx(holm(list(rest["p_value"])))
    assert {"paper's question", "consistency"} <= set(t["measures"])
    assert prim["verdict"].iloc[0] == "associated (OR > 1)"


def test_primary_sentence_and_anchor_table():
    import pandas as pd

    from tracekd_core.report import disconnect

    items = pd.DataFrame(_grid_rows())
    pooled = disconnect.pooled_step_table(items)
    text = disconnect.primary_association_markdown(pooled)
    assert text.count("- **babi") == 1 and "3 seed(s)" in text and "associated (OR > 1)" in text
    one = disconnect.pooled_step_table(pd.DataFrame(_grid_rows(n_seeds=1)))
    assert "not enough seeds for a verdict" in disconnect.primary_association_markdown(one)
    dis = disconnect.disconnect_table(items)
    anchor = disconnect.anchor_table(dis, pooled)
    assert set(anchor["seed"]) == {0, 1, 2} and set(anchor["condition"]) == {"correct", "incorrect"}
    assert anchor["pooled_p"].notna().all()
    assert "not in the gold trace" in set(pooled[pooled["step"] == "anchor"]["measures"]).pop()
