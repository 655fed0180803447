"""Teacher SFT kinds built by problem id, the subset helper, and the teacher config."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from tracekd_core.config import TeacherConfig, validate_config
from tracekd_core.errors import ConfigError, RecordError
from tracekd_core.evaluation.parse import parse_output
from tracekd_core.records import read_problems
from tracekd_core.traces.decompose import build_sft_examples
from tracekd_core.traces.teacher_kinds import (
    build_teacher_sft,
    select_by_ids,
    solved_ids,
    teacher_text,
)


@pytest.fixture
def problems():
    return read_problems(FIXTURES / "problems" / "cotemp10.jsonl")


def _rows(problems, solved=None):
    """One pipeline row per problem whose every text names that problem's own id."""
    solved = set(solved if solved is not None else [p.id for p in problems])
    return {
        p.id: {
            "id": p.id,
            "trace": f"reasoning of {p.id} about {p.question}",
            "answer": repr(p.answers) if p.id in solved else "['nobody']",
            "correct": p.id in solved,
            "summary": f"summary of {p.id}",
            "explanation": f"explanation of {p.id}",
        }
        for p in problems
    }


@pytest.mark.parametrize("kind", ["teacher_trace", "teacher_summary", "teacher_explanation"])
def test_each_record_carries_its_own_problems_text_and_the_gold_answer(problems, kind):
    rows = _rows(problems)
    # rows in reverse order: pairing by position (or by answer text) would mismatch them
    rows = dict(reversed(list(rows.items())))
    recs = build_teacher_sft(problems, rows, kind)
    assert [r["id"] for r in recs] == [p.id for p in problems]
    for p, r in zip(problems, recs, strict=True):
        content = r["messages"][2]["content"]
        think = content[slice(*r["spans"]["trace"])]
        assert p.id in think and all(q.id not in think for q in problems if q.id != p.id)
        parsed = parse_output(content, "cotemp")
        assert parsed.answer is not None and p.answers[0] in parsed.answer
        assert r["kind"] == kind and r["trace"]["label"] is None


def test_a_row_of_another_problem_is_refused(problems):
    rows = _rows(problems)
    a, b = problems[0].id, problems[1].id
    rows[a], rows[b] = rows[b], rows[a]  # the reference's bug: messages of other problems
    with pytest.raises(RecordError, match=a):
        build_teacher_sft(problems, rows, "teacher_trace")


def test_unsolved_or_textless_rows_are_refused_and_tags_are_stripped(problems):
    rows = _rows(problems, solved=[problems[0].id])
    with pytest.raises(RecordError, match="teacher-solved subset"):
        build_teacher_sft(problems[:2], rows, "teacher_trace")
    row = {**rows[problems[0].id], "trace": "a </think> b <answer>c</answer>", "summary": ""}
    assert teacher_text(row, "teacher_trace") == "a b c"
    assert solved_ids([row]) == set() and solved_ids([row], ["teacher_trace"]) == {row["id"]}


def test_controls_are_built_on_exactly_the_subset(problems):
    train = [p for p in problems if p.split == "train"] or problems
    ids = {p.id for p in train[::2]}
    sub = select_by_ids(train, ids)
    assert {p.id for p in sub} == ids
    for kind, corruption in (("none", None), ("correct", None), ("incorrect", "both")):
        recs = build_sft_examples(sub, kind, corruption=corruption)
        assert {r["id"] for r in recs} == ids
    with pytest.raises(RecordError, match="not in the problem set"):
        select_by_ids(train, ids | {"not-a-problem"})


def test_template_builder_refuses_teacher_kinds(problems):
    with pytest.raises(ConfigError, match="build_teacher_sft"):
        build_sft_examples(problems[:1], "teacher_trace")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"backend": "http"}, "needs base_url"),
        ({"backend": "file"}, "needs traces_file"),
        ({"conditions": ["teacher_trace", "correct"]}, "unknown teacher condition"),
        ({"seeds": [0, 0]}, "seeds must be unique"),
        ({"backend": "vllm"}, "backend"),
    ],
)
def test_teacher_config_errors_name_the_field(data, match):
    with pytest.raises(ConfigError, match=match):
        validate_config(TeacherConfig, data, "p.yaml")


def test_profile_rejects_teacher_datasets_outside_the_profile_and_teacher_main_conditions():
    from tracekd_core.config import ProfileConfig

    base = {"name": "x", "datasets": [{"dataset": "babi"}]}
    with pytest.raises(ConfigError, match="not among the profile's datasets"):
        validate_config(ProfileConfig, {**base, "teacher": {"enabled": True}})
    with pytest.raises(ConfigError, match="belong in teacher.conditions"):
        validate_config(ProfileConfig, {**base, "conditions": ["teacher_trace"]})
    ok = validate_config(ProfileConfig, {**base, "teacher": {"datasets": ["babi"]}})
    assert ok.teacher.datasets == ["babi"] and not ok.teacher.enabled


def test_reference_teacher_numbers_are_shipped_and_kept_out_of_chapter_3():
    from tracekd_core.report import tables as report
    from tracekd_core.report import teacher as teacher_report

    ref = teacher_report.reference_teacher_results()
    row = ref.query(
        "model == 'llama-3.2-1b' and condition == 'teacher_trace' and label == 'overall'"
    )
    assert row["accuracy_pct"].item() == 59.3  # PAPER_NOTES 8.3
    assert set(ref["condition"]) == {
        "teacher_trace",
        "teacher_summary",
        "teacher_explanation",
        "teacher_none",
        "teacher_correct",
        "teacher_incorrect",
        "teacher_swap",
    }
    import pandas as pd

    items = pd.DataFrame(
        [
            {
                "dataset": "cotemp",
                "student": "s",
                "condition": "correct",
                "label": "equal",
                "seed": 0,
                "id": "x",
                "answer_correct": True,
            }
        ]
    )
    assert not any("8b" in c for c in report.ours_vs_reference(items).columns)
