"""The benchmark helpers behind ``tracekd bench train | generate`` (bench/students.py), no model."""

from __future__ import annotations

import math

import pytest

from tracekd_core.bench import students as bench
from tracekd_core.traces.sft import read_sft


def test_bench_data_builds_profile_sized_cotemp_sft_once(tmp_path):
    path, test = bench.bench_data(tmp_path, n_train=6, n_test=3, profile="smoke")
    assert path.name == "cotemp-correct-6-d3.jsonl"  # the smoke profile's 3 distractors
    recs = read_sft(path)
    assert len(recs) == 6 and {r["kind"] for r in recs} == {"correct"}
    assert len(test) == 3 and {p.split for p in test} == {"test"}
    mtime = path.stat().st_mtime_ns
    assert bench.bench_data(tmp_path, n_train=6, n_test=3, profile="smoke")[0] == path
    assert path.stat().st_mtime_ns == mtime  # same content: not rewritten


def test_contender_rates_and_last_quarter_loss():
    c = bench._contender(2.0, 1000, 4e9, [4.0, 3.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.5])
    assert c["tokens_per_s"] == 500 and c["model_gflops_per_s"] == 2.0
    assert c["mean_loss_last_quarter"] == 0.5
    assert math.isnan(bench._contender(1.0, 1, 1.0, [])["mean_loss_last_quarter"])


def test_loss_agreement_compares_the_drops_of_both_curves():
    a = [2.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.2, 0.2]
    got = bench._loss_agreement(a, [x + 0.1 for x in a])  # same drop, shifted up
    assert got == {
        "steps": 8,
        "last_quarter_ours": 0.2,
        "last_quarter_trl": 0.3,
        "first_to_last_drop_ratio": 1.0,
    }
    assert math.isnan(bench._loss_agreement([1.0, 1.0], [1.0, 1.0])["first_to_last_drop_ratio"])


@pytest.mark.parametrize(
    ("value", "cell"), [(0.12345, "0.123"), (12.345, "12.35"), (7, "7"), ("bf16", "bf16")]
)
def test_table_formats_small_floats_with_three_decimals(value, cell):
    assert bench._table([("ours", {"v": value})], ["v"]).splitlines()[1].split()[-1] == cell
