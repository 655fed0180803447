"""CoTemp QA: fact parsing, interval relations, support rule and the native loader."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tracekd_core.config import DataConfig
from tracekd_core.datasets import cotemp, make_problems, solve
from tracekd_core.errors import DatasetFormatError

FIX = Path(__file__).parent / "fixtures" / "datasets"
REAL_EQUAL = Path("/work/shared/reference/data/cotemp/equal.json")


def test_parse_fact_date_formats():
    f = cotemp.parse_fact(
        "Amos Tuck holds the position of United States representative "
        "from March 4, 1847 to March 3, 1853."
    )
    assert (f.subject, f.relation, f.object) == ("Amos Tuck", "P39", "United States representative")
    assert f.start == dt.date(1847, 3, 4).toordinal()
    assert f.end == dt.date(1853, 3, 3).toordinal()
    g = cotemp.parse_fact("Mick Channon played for Norwich City F.C. in May, 1982.")
    assert (g.relation, g.object) == ("P54", "Norwich City F.C.")
    assert (g.start, g.end) == (dt.date(1982, 5, 1).toordinal(), dt.date(1982, 5, 31).toordinal())


def test_parse_fact_object_containing_in():
    # the reference's lazy regex cut objects at the first " in "; the date is parsed from the end
    f = cotemp.parse_fact(
        "Ann Berg holds the position of Minister of Women in the Presidency in 2010."
    )
    assert f.object == "Minister of Women in the Presidency"


def test_time_relations_cover_the_four_cases():
    a = (10, 20)
    assert cotemp.time_relation(a, (10, 20)) == "equal"
    assert cotemp.time_relation(a, (12, 15)) == "during"
    assert cotemp.time_relation(a, (5, 25)) == "during"
    assert cotemp.time_relation(a, (15, 30)) == "overlap"
    assert cotemp.time_relation(a, (21, 30)) is None
    assert cotemp.label_of(["overlap"]) == "overlap"
    assert cotemp.label_of(["overlap", "equal"]) == "mix"


def test_loader_on_fixtures_support_rules_and_skip(caplog):
    caplog.set_level("WARNING")
    rows, skipped = cotemp.read_relation_file(FIX / "cotemp" / "equal.json", "equal")
    assert skipped == 1  # index 2: "governor" is stated by no fact
    by_id = {p.id: p for p in rows}
    assert set(by_id) == {"cotemp-equal-00000", "cotemp-equal-00001", "cotemp-equal-00003"}
    assert by_id["cotemp-equal-00000"].support == [2]
    # substring would also take "Red Electoral Alliance"; the slot rule takes only "the Red"
    assert by_id["cotemp-equal-00001"].support == [0]
    # S2_R1_O1: Mick Channon's Norwich fact is not about the club named in the question
    assert by_id["cotemp-equal-00003"].support == [1]
    assert all(p.meta["support_rule"] == "slot" for p in rows)


def test_folder_split_labels_and_solver():
    problems = make_problems(DataConfig(dataset="cotemp", source=str(FIX / "cotemp")), seed=0)
    assert {p.label for p in problems} == {"equal", "overlap", "during", "mix"}
    # 3 equal, 2 overlap, 2 during, 1 mix; round(0.2 * n) test per relation -> 1, 0, 0, 0
    assert sorted(p.label for p in problems if p.split == "test") == ["equal"]
    assert len(problems) == 8
    mix = next(p for p in problems if p.label == "mix")
    assert mix.support == [1, 2] and mix.meta["triple_element"] == "S1_R1_O2"
    land = next(p for p in problems if p.id == "cotemp-during-00001")
    assert land.support == [1]  # subject slot, not "Rover is owned by Land Rover"
    for p in problems:
        assert sorted(solve(p)) == sorted(p.answers), p.id


def test_folder_split_is_seeded():
    cfg = DataConfig(dataset="cotemp", source=str(FIX / "cotemp"))
    ids = lambda s: [p.id for p in make_problems(cfg, s) if p.split == "test"]  # noqa: E731
    assert ids(0) == ids(0)
    assert len({tuple(ids(s)) for s in range(6)}) > 1


def test_malformed_row_names_file_line_field():
    with pytest.raises(DatasetFormatError) as e:
        cotemp.read_relation_file(FIX / "cotemp_bad" / "equal.json", "equal")
    assert e.value.line == 2 and e.value.field == "answer"
    assert "equal.json" in str(e.value) and "line 2" in str(e.value)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetFormatError, match="equal.json"):
        make_problems(DataConfig(dataset="cotemp", source=str(tmp_path)), seed=0)


@pytest.mark.skipif(not REAL_EQUAL.exists(), reason="reference CoTempQA equal.json not present")
def test_real_equal_file(tmp_path):
    (tmp_path / "equal.json").symlink_to(REAL_EQUAL)  # never copied into the repo
    problems = make_problems(DataConfig(dataset="cotemp", source=str(tmp_path)), seed=0)
    assert len(problems) == 436
    assert sum(p.split == "test" for p in problems) == 87  # round(0.2 * 436), as the reference
    assert all(p.meta["support_rule"] == "slot" for p in problems)
    # every answer is stated by exactly one fact under the slot rule
    assert all(len(p.support) == len(p.answers) for p in problems)
    assert all(sorted(solve(p)) == sorted(p.answers) for p in problems)
    assert all(cotemp.parse_fact(c) is not None for p in problems for c in p.context)


@pytest.mark.network
@pytest.mark.skip(reason="needs the Hugging Face Hub (offline here)")
def test_hub_loader():  # pragma: no cover
    problems = make_problems(DataConfig(dataset="cotemp", source="hub"), seed=0)
    assert len(problems) == 4748


REAL_DIR = REAL_EQUAL.parent


@pytest.mark.skipif(not REAL_DIR.exists(), reason="reference CoTempQA folder not present")
def test_real_two_person_support_is_about_the_asked_subject():
    """Issue 9: no S2_*_O2 support fact is about the other named person (real files)."""
    files = sorted(REAL_DIR.glob("*.json"))
    problems = []
    for path in files:
        rows, _ = cotemp.read_relation_file(path, path.stem)  # read in place, never copied
        problems += rows
    two_person = [p for p in problems if p.meta["triple_element"] in cotemp.S2_O2]
    assert two_person, f"no S2_*_O2 problem in {[f.name for f in files]}"
    bad = {p.id: cotemp.off_subject_support(p) for p in two_person if cotemp.off_subject_support(p)}
    assert bad == {}


def test_off_subject_support_flags_the_other_person():
    q = "While Ann worked for Acme, which employer did Bo work for during the same time period?"
    p = cotemp.parse_row(
        {
            "index": 0,
            "triple_element": "S2_R1_O2",
            "question": q,
            "facts": [
                "Ann works for Acme from 2001 to 2003.",
                "Bo works for Initech from 2001 to 2003.",
                "Ann works for Initech from 2001 to 2003.",
            ],
            "answer": ["Initech"],
        },
        "equal",
        file="<t>",
        line=1,
    )
    assert p.support == [1]  # Ann's Initech fact is not support
    assert cotemp.off_subject_support(p) == []
    from dataclasses import replace

    assert cotemp.off_subject_support(replace(p, support=[1, 2])) == [2]
