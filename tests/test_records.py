"""The canonical problem record: round trip and validation errors that say where and how to fix."""

import json

import pytest

from tracekd_core.errors import RecordError
from tracekd_core.records import Problem, read_problems, validate_problem, write_problems


def _problem(**kw):
    base = dict(
        id="p1",
        dataset="cotemp",
        split="train",
        question="Who?",
        context=["A holds the position of B from 2001 to 2003.", "C is owned by D in 2002."],
        answers=["B"],
        label="equal",
        support=[0],
        meta={"triple_element": "S1_R1_O2"},
    )
    base.update(kw)
    return Problem(**base)


def test_round_trip(tmp_path):
    path = tmp_path / "p.jsonl"
    probs = [_problem(id="a"), _problem(id="b", split="test", support=[0, 1])]
    assert write_problems(path, probs) == 2
    assert read_problems(path) == probs


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("support", [5], "out of range"),
        ("answers", [], "at least one"),
        ("label", "before", "Use one of"),
        ("split", "dev", "train"),
        ("support", [0, 0], "duplicate"),
        ("context", [], "non-empty list"),
    ],
)
def test_bad_field_names_file_line_field_value_and_fix(tmp_path, field, value, needle):
    rows = [_problem(id="ok").to_dict(), {**_problem(id="bad").to_dict(), field: value}]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(RecordError) as e:
        read_problems(path)
    msg = str(e.value)
    assert str(path) in msg and "line 2" in msg and repr(field) in msg and needle in msg
    assert e.value.line == 2 and e.value.field == field


def test_missing_and_unknown_fields(tmp_path):
    d = _problem().to_dict()
    del d["label"]
    with pytest.raises(RecordError, match="'label'"):
        Problem.from_dict(d)
    with pytest.raises(RecordError, match="meta"):
        Problem.from_dict({**_problem().to_dict(), "triple": "x"})


def test_duplicate_ids_and_bad_json(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text(
        json.dumps(_problem().to_dict()) + "\n" + json.dumps(_problem().to_dict()) + "\n"
    )
    with pytest.raises(RecordError, match="first used on line 1"):
        read_problems(path)
    path.write_text("{not json\n")
    with pytest.raises(RecordError, match="not valid JSON"):
        read_problems(path)


def test_validate_returns_problem():
    p = _problem()
    assert validate_problem(p) is p
    assert p.support_text == ["A holds the position of B from 2001 to 2003."]


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_bytes(b'{"id": "a"}\n{"id": "\xff"}\n'), "line 2: field '<encoding>'"),
        (lambda p: None, "No such file"),
        (lambda p: p.mkdir(), "This is a folder"),
    ],
    ids=["non-utf8", "missing", "folder"],
)
def test_bad_paths_and_bytes_are_named_errors(tmp_path, make, needle):
    """Issue 10.7: non-UTF-8 bytes, a missing path or a folder used to raise tracebacks."""
    path = tmp_path / "problems.jsonl"
    make(path)
    with pytest.raises(RecordError, match=needle):
        read_problems(path)


def test_non_utf8_babi_file_is_a_dataset_format_error(tmp_path):
    from tracekd_core.config import DataConfig
    from tracekd_core.datasets import make_problems
    from tracekd_core.errors import DatasetFormatError

    (tmp_path / "qa1_single-supporting-fact_train.txt").write_bytes(b"1 Mary w\xe9nt home.\n")
    (tmp_path / "qa1_single-supporting-fact_test.txt").write_text("1 Mary went home.\n")
    with pytest.raises(DatasetFormatError, match="not UTF-8"):
        make_problems(DataConfig(dataset="babi", source=str(tmp_path)), seed=0)
