"""Paired comparison of two scored runs (evaluation/compare.py)."""

from __future__ import annotations

import pytest

from tracekd_core.errors import RecordError
from tracekd_core.evaluation.compare import compare_runs, read_items
from tracekd_core.records import write_jsonl


def test_compare_runs_pairs_on_ids_and_counts_discordant_pairs():
    a = [{"id": f"p{i}", "answer_correct": i < 2, "trace_correct": None} for i in range(6)]
    b = [
        {"id": f"p{i}", "answer_correct": i < 5, "trace_correct": None} for i in reversed(range(6))
    ]
    rows = {r["metric"]: r for r in compare_runs(a, b, n_boot=200, seed=0)}
    assert set(rows) == {"answer_correct", "trace_correct"}
    r = rows["answer_correct"]
    assert (r["n"], r["a_only"], r["b_only"]) == (6, 0, 3)
    assert r["acc_a"] == pytest.approx(2 / 6) and r["diff"] == pytest.approx(3 / 6)
    assert r["lo"] <= r["diff"] <= r["hi"]


def test_read_items_names_a_folder_that_was_not_scored(tmp_path):
    with pytest.raises(RecordError, match="tracekd score --out DIR"):
        read_items(tmp_path)
    write_jsonl(tmp_path / "items.jsonl", [{"id": "a", "answer_correct": True}])
    assert read_items(tmp_path) == [{"id": "a", "answer_correct": True}]
