"""MS MARCO: row loader (JSONL, column JSON, parquet), support rules, skipping, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracekd_core.config import DataConfig
from tracekd_core.datasets import make_problems, marco
from tracekd_core.errors import DatasetFormatError

FIX = Path(__file__).parent / "fixtures" / "datasets"


def test_folder_loader_selected_support_and_skips(caplog):
    caplog.set_level("WARNING")
    problems = make_problems(DataConfig(dataset="marco", source=str(FIX / "marco")), seed=0)
    by_id = {p.id: p for p in problems}
    # 103 has no selected passage, 104 is "No Answer Present." -> both skipped and logged
    assert set(by_id) == {"marco-101", "marco-102", "marco-105", "marco-201", "marco-202"}
    assert "no_answer" in caplog.text and "no_selected" in caplog.text
    assert by_id["marco-102"].support == [1] and by_id["marco-102"].label == "NUMERIC"
    assert by_id["marco-102"].meta["well_formed_answers"] == ["A spider has eight legs."]
    assert by_id["marco-105"].label == "LOCATION"
    # validation rows (column layout, passages as objects) are the test split; all answers kept
    assert by_id["marco-201"].split == "test"
    assert by_id["marco-201"].answers == ["100 degrees Celsius", "212 degrees Fahrenheit"]
    assert by_id["marco-201"].support == [1] and by_id["marco-201"].meta["urls"] == ["u1", "u2"]


def test_overlap_rule_keeps_unselected_rows():
    cfg = DataConfig(dataset="marco", source=str(FIX / "marco"), marco_support="overlap")
    by_id = {p.id: p for p in make_problems(cfg, seed=0)}
    # "copper atoms" shares 'copper' with both passages; the tie goes to the first (selected)
    assert by_id["marco-202"].support == [0]
    # 103 has no selected passage but is kept under the overlap rule (no overlap: first passage)
    assert by_id["marco-103"].support == [0]
    assert by_id["marco-103"].meta["selected"] == []
    assert all(p.meta["support_rule"] == "overlap" for p in by_id.values())


def test_parquet_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (FIX / "marco" / "train.jsonl").read_text().splitlines()]
    for r in rows:
        r["wellFormedAnswers"] = (
            [] if isinstance(r["wellFormedAnswers"], str) else r["wellFormedAnswers"]
        )
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train-00000-of-00001.parquet")
    problems = make_problems(DataConfig(dataset="marco", source=str(tmp_path)), seed=0)
    assert sorted(p.id for p in problems) == ["marco-101", "marco-102", "marco-105"]


def test_per_type_sampling_with_n():
    cfg = DataConfig(dataset="marco", source=str(FIX / "marco"), n_train=5, n_test=5)
    problems = make_problems(cfg, seed=0)
    # allocate(5) gives one per type; DESCRIPTION, NUMERIC, LOCATION exist in train
    assert sorted(p.label for p in problems if p.split == "train") == [
        "DESCRIPTION",
        "LOCATION",
        "NUMERIC",
    ]


def test_malformed_row():
    with pytest.raises(DatasetFormatError) as e:
        list(
            marco.read_rows(
                [FIX / "marco_bad" / "train.jsonl"], "train", DataConfig(dataset="marco"), 0
            )
        )
    assert e.value.line == 2 and e.value.field == "query_type" and e.value.value == "COLOUR"
    with pytest.raises(DatasetFormatError, match="is_selected"):
        marco.row_to_problem(
            {
                "query": "q",
                "query_type": "PERSON",
                "answers": ["a"],
                "passages": {"is_selected": [1], "passage_text": ["x", "y"]},
            },
            split="train",
            pid=None,
            support_rule="selected",
            file="f",
            line=3,
        )


@pytest.mark.network
@pytest.mark.skip(reason="needs the Hugging Face Hub (offline here)")
def test_hub_loader():  # pragma: no cover
    problems = make_problems(DataConfig(dataset="marco", source="hub"), seed=0)
    assert len(problems) == 6000
