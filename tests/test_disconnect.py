"""disconnect.trace_modes_table reads both trace-scoring modes from items.jsonl (issue 11)."""

from __future__ import annotations

import pandas as pd

from tests.conftest import FIXTURES
from tracekd_core.evaluation import score as score_mod
from tracekd_core.evaluation.score import read_predictions, score_items, score_run
from tracekd_core.evaluation.stats import two_by_two
from tracekd_core.records import read_problems
from tracekd_core.report import disconnect

PROBLEMS = FIXTURES / "parse" / "problems.jsonl"
PREDICTIONS = FIXTURES / "parse" / "predictions.jsonl"


def _cells(score_dir) -> pd.DataFrame:
    row = {"dataset": "cotemp", "student": "s", "condition": "correct", "seed": 0}
    row |= {"problems": str(PROBLEMS), "predictions": str(PREDICTIONS), "score_dir": str(score_dir)}
    return pd.DataFrame([row])


def test_trace_modes_table_equals_rescoring_without_rescoring(tmp_path, monkeypatch):
    score_run(PROBLEMS, PREDICTIONS, tmp_path / "score")

    def no_rescoring(*a, **k):
        raise AssertionError("trace_modes_table must read items.jsonl, not re-score")

    monkeypatch.setattr(score_mod, "score_items", no_rescoring)
    got = disconnect.trace_modes_table(_cells(tmp_path / "score"))
    monkeypatch.undo()

    assert sorted(got["trace_scoring"]) == ["reference", "strict"]
    problems, preds = read_problems(PROBLEMS), read_predictions(PREDICTIONS)
    for mode in ("strict", "reference"):
        want = two_by_two(score_items(problems, preds, trace_scoring=mode), "trace")
        row = got.loc[got["trace_scoring"] == mode].iloc[0]
        assert {k: int(row[k]) for k in want} == want
        assert row["tt_share"] == want["tt"] / len(problems)


def test_untrained_trace_free_conditions_have_no_rows(tmp_path):
    score_run(PROBLEMS, PREDICTIONS, tmp_path / "score")
    cells = _cells(tmp_path / "score").assign(condition="direct")
    assert disconnect.trace_modes_table(cells).empty
