"""Seeds as repeated measures: clustered bootstrap and the pooled paired test (issue 9)."""

from __future__ import annotations

import random

import pytest

from tracekd_core.evaluation.clustered import cluster_bootstrap_rate, paired_pooled, verdict


def _run(pattern, seeds):
    return [
        {"id": f"p{i}", "seed": s, "answer_correct": bool(v)}
        for s in seeds
        for i, v in enumerate(pattern)
    ]


rng = random.Random(7)
A = [rng.random() < 0.6 for _ in range(80)]
B = [a if rng.random() < 0.8 else not a for a in A]


def test_identical_seed_copies_do_not_shrink_the_interval():
    one = cluster_bootstrap_rate(_run(A, [0]), seed=1)
    three = cluster_bootstrap_rate(_run(A, [0, 1, 2]), seed=1)
    assert three["n"] == 3 * one["n"] and three["n_problems"] == one["n_problems"] == 80
    assert three["rate"] == one["rate"]
    assert (three["lo"], three["hi"]) == pytest.approx((one["lo"], one["hi"]))


def test_identical_seed_copies_do_not_strengthen_the_paired_test():
    one = paired_pooled(_run(A, [0]), _run(B, [0]), seed=1)
    three = paired_pooled(_run(A, [0, 1, 2]), _run(B, [0, 1, 2]), seed=1)
    assert three["diff"] == pytest.approx(one["diff"])
    # equal up to the small-sample factor (N-1)/(N-K) of the cluster-robust covariance
    assert three["p_value"] == pytest.approx(one["p_value"], rel=1e-2)
    assert (one["enough_seeds"], three["enough_seeds"]) == (False, True)


def test_paired_diff_by_hand_and_direct_pairs_with_every_seed():
    a = _run([1, 1, 0, 0], [-1])  # direct prompting: no seed
    b = _run([1, 0, 0, 0], [0]) + _run([1, 1, 1, 0], [1]) + _run([0, 0, 0, 0], [2])
    r = paired_pooled(a, b, n_boot=200)
    # per problem B - A: (2/3 - 1), (1/3 - 1), (1/3 - 0), 0  -> mean -1/6
    assert r["diff"] == pytest.approx(-1 / 6)
    assert (r["n_seeds_a"], r["n_seeds_b"], r["enough_seeds"]) == (0, 3, True)


def test_no_difference_and_empty():
    r = paired_pooled(_run(A, [0, 1, 2]), _run(A, [0, 1, 2]))
    assert r["status"] == "no_difference" and r["p_value"] == 1.0 and r["diff"] == 0
    assert paired_pooled([], _run(A, [0]))["status"] == "degenerate"
    assert cluster_bootstrap_rate([])["rate"] is None


def test_verdict_needs_three_seeds():
    r = paired_pooled(_run(A, [0]), _run([False] * 80, [0]))
    assert r["p_value"] < 1e-6 and verdict(r) == "not enough seeds for a verdict"
    r3 = paired_pooled(_run(A, [0, 1, 2]), _run([False] * 80, [0, 1, 2]))
    assert verdict(r3) == "lower"


def _assoc_rows(table, seeds, label="a", step="label"):
    """Rows of a hand table (tt, tf, ft, ff) = (answer, step) counts, copied to every seed."""
    out, i = [], 0
    for (ans, ok), n in zip(((1, 1), (1, 0), (0, 1), (0, 0)), table, strict=True):
        for _ in range(n):
            for s in seeds:
                out.append(
                    {
                        "id": f"{label}{i}",
                        "seed": s,
                        "label": label,
                        "answer_correct": bool(ans),
                        f"{step}_correct": bool(ok),
                    }
                )
            i += 1
    return out


def test_pooled_association_by_hand_and_seed_copies_add_nothing():
    import math

    from scipy.stats import norm

    from tracekd_core.evaluation.clustered import pooled_association

    one = pooled_association(_assoc_rows((30, 10, 10, 30), [0]), "label")
    # saturated logit: OR = ad/bc = 9, Wald se = sqrt(1/30 + 1/10 + 1/10 + 1/30)
    se = math.sqrt(1 / 30 + 1 / 10 + 1 / 10 + 1 / 30)
    assert one["odds_ratio"] == pytest.approx(9.0)
    assert one["p_value"] == pytest.approx(2 * norm.sf(math.log(9) / se), rel=1e-6)
    assert one["or_lo"] == pytest.approx(math.exp(math.log(9) - 1.959964 * se), rel=1e-5)
    three = pooled_association(_assoc_rows((30, 10, 10, 30), [0, 1, 2]), "label")
    assert (three["n"], three["n_problems"], three["n_seeds"]) == (240, 80, 3)
    assert three["p_value"] == pytest.approx(one["p_value"], rel=1e-6)  # not 3x the evidence
    assert (one["enough_seeds"], three["enough_seeds"]) == (False, True)


def test_pooled_association_strata_fixed_effects_remove_confounding():
    from tracekd_core.evaluation.clustered import pooled_association

    # OR 1 within each stratum, but stratum b is mostly step-wrong and answer-wrong
    a = _assoc_rows((40, 40, 40, 40), [0, 1, 2], "a")
    rows = a + _assoc_rows((4, 36, 16, 144), [0, 1, 2], "b")
    within = pooled_association(rows, "label")
    pooled = pooled_association(rows, "label", stratum=None)
    assert within["odds_ratio"] == pytest.approx(1.0, abs=1e-6) and within["p_value"] > 0.9
    assert within["n_strata_used"] == 2
    assert pooled["p_value"] < 0.01  # the confounded pooled logit


def test_pooled_association_no_or_for_empty_margin_or_cell():
    from tracekd_core.evaluation.clustered import association_verdict, pooled_association

    empty = pooled_association(_assoc_rows((5, 3, 0, 0), [0, 1, 2]), "label")  # no wrong answer
    assert empty["status"] == "degenerate" and empty["odds_ratio"] is None
    zero = pooled_association(_assoc_rows((10, 0, 4, 6), [0, 1, 2]), "label")  # tf = 0
    assert zero["status"] == "separation" and zero["p_value"] is None
    assert association_verdict(zero) == "no test possible (separation)"
    few = pooled_association(_assoc_rows((30, 10, 10, 30), [0]), "label")
    assert association_verdict(few) == "not enough seeds for a verdict"
