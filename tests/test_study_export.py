"""Study kit: instrument, stimuli and the exported survey (study_design, study_stimuli,
study_survey)."""

from __future__ import annotations

import json
import re

import pytest

from tracekd_core.cli import main
from tracekd_core.errors import ConfigError, EmptyInputError
from tracekd_core.study.design import (
    ITEMS,
    TRACE_TYPES,
    attention_positions,
    fnv1a32,
    mulberry32,
    stimulus_order,
)
from tracekd_core.study.stimuli import (
    check_conditions,
    make_stimuli,
    read_stimuli,
    read_teacher_rows,
    usable_teacher_ids,
)
from tracekd_core.study.survey import export_survey, render_survey


def test_prng_matches_reference_values():
    # FNV-1a 32 test vectors; mulberry32's first outputs as node computes them from the
    # survey page's JavaScript function
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968
    g = mulberry32(0)
    first = [next(g) for _ in range(3)]
    assert [round(x, 10) for x in first] == [0.2664292087, 0.0003297457, 0.2232720274]
    g = mulberry32(0xDEADBEEF)
    assert [round(next(g), 10) for _ in range(2)] == [0.9413696141, 0.2671957498]


def test_order_is_a_seeded_permutation_per_participant():
    ids = [f"s{i:02d}" for i in range(12)]
    a = stimulus_order(ids, seed=0, participant="P1")
    assert sorted(a) == ids and a != ids
    assert a == stimulus_order(ids, seed=0, participant="P1")
    assert a != stimulus_order(ids, seed=0, participant="P2")
    assert a != stimulus_order(ids, seed=1, participant="P1")
    # over many participants every stimulus lands first about equally often
    firsts = [stimulus_order(ids, seed=0, participant=f"p{k}")[0] for k in range(1200)]
    counts = [firsts.count(s) for s in ids]
    assert min(counts) > 60 and max(counts) < 140


def test_attention_positions_spread():
    assert attention_positions(12) == {"A1": 4, "A2": 8}
    assert attention_positions(3) == {"A1": 1, "A2": 2}


def test_conditions_validated():
    assert check_conditions(["decomposed"]) == ["decomposed"]
    for bad in (["decomposed", "decomposed"], ["r1"], []):
        with pytest.raises(ConfigError, match="--conditions"):
            check_conditions(bad)


def test_teacher_rows_need_correct_and_every_text(study_problems, study_teacher_output):
    rows = read_teacher_rows(study_teacher_output)
    ids = sorted(p.id for p in study_problems)
    assert set(usable_teacher_ids(rows, TRACE_TYPES)) == {p.id for p in study_problems[2:]}
    assert len(ids) == 6
    # without the summary type, problem 1 (no summary) becomes eligible; problem 0 never
    eligible = set(usable_teacher_ids(rows, ["teacher_trace", "decomposed"]))
    assert study_problems[1].id in eligible and study_problems[0].id not in eligible


def test_stimuli_cover_every_problem_and_type(study_stimuli):
    s = study_stimuli
    assert len(s["stimuli"]) == 3 * len(TRACE_TYPES)
    assert {x["type"] for x in s["stimuli"]} == set(TRACE_TYPES)
    assert len({x["problem"] for x in s["stimuli"]}) == 3
    assert len(s["problems"]) == 3
    # stimulus ids do not encode the type: the first four are not one problem's four types
    first = [x["type"] for x in s["stimuli"][:4]]
    assert first != list(TRACE_TYPES)
    dec = [x for x in s["stimuli"] if x["type"] == "decomposed"]
    assert all("<think>" not in x["text"] and "category" in x["text"] for x in dec)
    assert len(s["design"]["items"]) == len(ITEMS)


def test_export_is_deterministic_given_seed(study_problems, study_teacher_output, tmp_path):
    def build(seed, out):
        st = make_stimuli(
            study_problems,
            TRACE_TYPES,
            n=3,
            seed=seed,
            cache_dir=tmp_path / "c",
            teacher_output=study_teacher_output,
        )
        return export_survey(st, tmp_path / out).read_bytes(), st

    a, sa = build(0, "a")
    b, _ = build(0, "b")
    c, sc = build(5, "c")
    assert a == b
    assert (tmp_path / "a" / "stimuli.json").read_bytes() == (
        tmp_path / "b" / "stimuli.json"
    ).read_bytes()
    assert a != c and sa["survey_id"] != sc["survey_id"]
    assert (tmp_path / "a" / "responses").is_dir()
    assert read_stimuli(tmp_path / "a")["survey_id"] == sa["survey_id"]


def test_survey_is_self_contained_and_escapes_script(study_stimuli):
    st = dict(study_stimuli)
    st["stimuli"] = [dict(st["stimuli"][0], text="</script><script>alert(1)</script>")]
    html = render_survey(st)
    assert html.count("</script>") == 2  # the payload cannot close its element
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="?https?:', html)
    payload = re.search(
        r'<script id="payload" type="application/json">(.*?)</script>', html, re.S
    ).group(1)
    assert json.loads(payload)["survey_id"] == st["survey_id"]


def test_too_few_eligible_problems_is_named(study_problems, study_teacher_output, tmp_path):
    with pytest.raises(EmptyInputError, match="lower --n"):
        make_stimuli(
            study_problems,
            TRACE_TYPES,
            n=5,
            seed=0,
            cache_dir=tmp_path,
            teacher_output=study_teacher_output,
        )
    with pytest.raises(EmptyInputError, match="teacher_traces.jsonl"):
        read_teacher_rows(tmp_path)


def test_offline_local_teacher_stimuli(study_problems, tiny_student, tmp_path):
    from tracekd_core.teacher.backends import LocalTeacher

    model, tok = tiny_student
    teacher = LocalTeacher("tiny-random", model=model, tokenizer=tok)
    st = make_stimuli(
        study_problems,
        TRACE_TYPES,
        n=2,
        seed=0,
        cache_dir=tmp_path / "cache",
        teacher=teacher,
        max_new_tokens=8,
    )
    assert len(st["stimuli"]) == 8 and "local teacher tiny-random" in st["source"]
    assert all(x["text"] for x in st["stimuli"])
    # every call is cached: a second build calls no model and gives the same stimuli
    assert 1 <= len(list((tmp_path / "cache").rglob("*.json"))) <= 6

    def no_call(*args):
        raise AssertionError("the model was called although every reply is cached")

    teacher.chat = no_call
    again = make_stimuli(
        study_problems,
        TRACE_TYPES,
        n=2,
        seed=0,
        cache_dir=tmp_path / "cache",
        teacher=teacher,
        max_new_tokens=8,
    )
    assert again == st


def test_cli_export_from_teacher_output(study_problems, study_teacher_output, tmp_path, capsys):
    from tracekd_core.records import write_problems

    probs = tmp_path / "problems.jsonl"
    write_problems(probs, study_problems)
    out = tmp_path / "study"
    rc = main(
        [
            "study",
            "export",
            "--problems",
            str(probs),
            "--teacher",
            str(study_teacher_output),
            "--n",
            "2",
            "--conditions",
            "teacher_trace,decomposed",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    st = read_stimuli(out)
    assert len(st["stimuli"]) == 4 and st["conditions"] == ["teacher_trace", "decomposed"]
    assert "4 stimuli" in capsys.readouterr().out
    assert main(["study", "export", "--conditions", "r1", "--out", str(out)]) == 2
    bad = ["study", "export", "--teacher", str(study_teacher_output), "--out", str(out)]
    assert main(bad) == 2
    assert "--teacher needs --problems" in capsys.readouterr().err
