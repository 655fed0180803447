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
