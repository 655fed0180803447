"""bAbI: native text parser, folder loader, every_question and malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracekd_core.config import DataConfig
from tracekd_core.datasets import babi, make_problems, solve
from tracekd_core.errors import DatasetFormatError

FIX = Path(__file__).parent / "fixtures" / "datasets"
QA1 = FIX / "babi" / "qa1_single-supporting-fact_train.txt"


def test_first_question_of_each_story():
    problems = babi.read_task_file(QA1, 1, "train", every_question=False)
    assert [p.id for p in problems] == [f"babi-qa1-train-0000{i}" for i in range(3)]
    first = problems[0]
    assert first.context == ["Mary moved to the bathroom.", "John went to the hallway."]
    assert first.question == "Where is Mary?" and first.answers == ["bathroom"]
    assert first.support == [0] and first.label == "single-supporting-fact"
    assert first.meta["task_id"] == 1
    # story 3: its first question comes after 3 lines; support id 3 -> index 2
    assert problems[2].context[problems[2].support[0]] == "John went to the office."


def test_every_question_maps_ids_past_question_lines():
    problems = babi.read_task_file(QA1, 1, "train", every_question=True)
    assert len(problems) == 5
    second = next(p for p in problems if p.id == "babi-qa1-train-00000-q1")
    # line 4 of the story is the 3rd statement (line 3 was a question)
    assert second.context == [
        "Mary moved to the bathroom.",
        "John went to the hallway.",
        "Daniel went back to the hallway.",
        "Sandra moved to the garden.",
    ]
    assert second.support == [2] and second.answers == ["hallway"]


def test_folder_loader_keeps_casing_and_solves():
    problems = make_problems(DataConfig(dataset="babi", source=str(FIX / "babi")), seed=0)
    labels = {p.label for p in problems}
    assert labels == {"single-supporting-fact", "basic-deduction"}
    assert {p.split for p in problems} == {"train", "test"}
    # test = round(10%) per task, at least 1: one problem per task here
    assert sorted(p.label for p in problems if p.split == "test") == sorted(labels)
    assert any(c[0].isupper() for p in problems for c in p.context)
    for p in problems:
        assert solve(p) == p.answers, p.id


def test_deduction_support_two_lines():
    p = next(
        p
        for p in babi.read_task_file(
            FIX / "babi" / "qa15_basic-deduction_train.txt", 15, "train", every_question=False
        )
    )
    assert p.support_text == ["Wolves are afraid of mice.", "Emily is a wolf."]
    assert solve(p) == ["mouse"]


def test_malformed_question_line():
    with pytest.raises(DatasetFormatError) as e:
        babi.read_task_file(
            FIX / "babi_bad" / "qa1_single-supporting-fact_train.txt",
            1,
            "train",
            every_question=False,
        )
    assert e.value.line == 4 and e.value.field == "question"
    assert "qa1_single-supporting-fact_train.txt" in str(e.value)


def test_numbering_gap_and_bad_support():
    with pytest.raises(DatasetFormatError) as e:
        babi.read_task_file(
            FIX / "babi_bad" / "qa1_single-supporting-fact_test.txt",
            1,
            "test",
            every_question=False,
        )
    assert e.value.line == 2 and e.value.field == "line_number"
    with pytest.raises(DatasetFormatError, match="supporting_ids"):
        babi.parse_stories("1 Mary went to the hallway.\n2 Where is Mary?\thallway\t2\n")
    with pytest.raises(DatasetFormatError, match="line_number"):
        babi.parse_stories("Mary went to the hallway.\n")


def test_n_caps_are_stratified():
    problems = make_problems(
        DataConfig(dataset="babi", source=str(FIX / "babi"), n_train=2, n_test=1), seed=0
    )
    assert sum(p.split == "train" for p in problems) == 2
    assert sum(p.split == "test" for p in problems) == 1


@pytest.mark.network
@pytest.mark.skip(reason="needs the Hugging Face Hub (offline here)")
def test_hub_loader():  # pragma: no cover
    problems = make_problems(DataConfig(dataset="babi", source="hub"), seed=0)
    assert {p.label for p in problems} == set(babi.TASKS.values())
