"""Tests of decompose.py: trace formats, SFT kinds, spans, the SFT record contract, the CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tracekd_core import cli
from tracekd_core.errors import ConfigError, RecordError, TraceFormatError, UnknownNameError
from tracekd_core.records import Problem, read_problems, write_jsonl
from tracekd_core.registry import SFT_KINDS, TRACE_TEMPLATES
from tracekd_core.traces.decompose import (
    LABEL_SENTENCE,
    RETRIEVAL_SENTENCE,
    answer_text,
    build_sft_examples,
)
from tracekd_core.traces.prompts import prompt_messages
from tracekd_core.traces.sft import read_sft, validate_sft
from tracekd_core.traces.stated import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    gold_trace,
)

FIX = Path(__file__).parent / "fixtures" / "problems"
FILES = ("cotemp10", "babi5", "marco5")
KINDS = [
    ("none", None),
    ("label_only", None),
    ("correct", None),
    ("incorrect", "label"),
    ("incorrect", "retrieval"),
    ("incorrect", "both"),
    ("incorrect", "swap"),
]


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return [p for f in FILES for p in read_problems(FIX / f"{f}.jsonl")]


@pytest.fixture(scope="module")
def by_id(problems) -> dict[str, Problem]:
    return {p.id: p for p in problems}


def _assistant(rec: dict) -> str:
    return rec["messages"][2]["content"]


def test_registries_hold_the_builtins():
    assert TRACE_TEMPLATES.names() == ["reference"]
    assert {"correct", "incorrect", "label_only", "none"} <= set(SFT_KINDS.names())
    assert set(SFT_KINDS.names()) - {"correct", "incorrect", "label_only", "none"} == {
        "teacher_trace",  # traces/teacher_kinds.py
        "teacher_summary",
        "teacher_explanation",
    }


def test_fixtures_follow_the_gold_rules(problems):
    """CoTemp gold support = every fact containing a gold answer (PAPER_NOTES 2.1)."""
    assert {p.label for p in problems if p.dataset == "cotemp"} == {
        "equal",
        "overlap",
        "during",
        "mix",
    }
    for p in problems:
        assert gold_trace(p) == (p.label, p.support)
        if p.dataset == "cotemp":
            want = [i for i, f in enumerate(p.context) if any(a in f for a in p.answers)]
            assert p.support == want, p.id
        if p.label == "mix":
            assert len(p.answers) >= 2


def test_correct_trace_cotemp_mix_golden(by_id):
    p = by_id["cotemp-mix-00009"]
    rec = build_sft_examples([p], "correct")[0]
    assert _assistant(rec) == (
        "<think>The temporal relation between the event in question and the event in context is: "
        "mix.\nI need to use the following facts to answer the question: ['Daniel Okafor holds "
        "the position of Governor of the Central Bank from 2007 to 2011.', 'Daniel Okafor holds "
        "the position of Chair of the Economic Council from 2009 to 2010.']</think> <answer>"
        "['Governor of the Central Bank', 'Chair of the Economic Council']</answer>"
    )
    assert rec["trace"] == {
        "label": "mix",
        "support": [2, 4],
        "swapped_from": None,
        "support_text": [p.context[2], p.context[4]],
    }
    assert rec["kind"] == "correct" and rec["corruption"] is None


def test_babi_label_only_and_none_golden(by_id):
    p = by_id["babi-single-supporting-fact-00001"]
    lab = build_sft_examples([p], "label_only")[0]
    assert _assistant(lab) == (
        "<think>The category of the question represents what is being asked in that question. "
        "The category of the question asked is: single-supporting-fact.\n</think> "
        "<answer>bathroom</answer>"
    )
    assert build_sft_examples([p], "none")[0]["messages"][2]["content"] == "bathroom"
    assert (
        build_sft_examples([by_id["cotemp-equal-00001"]], "none")[0]["messages"][2]["content"]
        == "['Minister for Democracy']"
    )


def test_marco_correct_uses_passage_list_and_first_answer(by_id):
    p = by_id["marco-NUMERIC-00002"]
    assert len(p.answers) == 2
    assert _assistant(build_sft_examples([p], "correct")[0]) == (
        "<think>The category of the question represents what is being asked in that question. "
        "The category of the question asked is: NUMERIC.\nI need to use the following text to "
        "answer the question: ['A medium banana contains about 105 calories, 27 grams of "
        "carbohydrates and 3 grams of fiber.']</think> <answer>105 calories</answer>"
    )


@pytest.mark.parametrize(("kind", "corruption"), KINDS)
def test_spans_and_sentence_constants(problems, kind, corruption):
    recs = build_sft_examples(problems, kind, corruption=corruption, seed=3)
    assert [r["id"] for r in recs] == [p.id for p in problems]  # same ids, same order
    for p, r in zip(problems, recs, strict=True):
        text = _assistant(r)
        a0, a1 = r["spans"]["answer"]
        assert r["messages"][:2] == prompt_messages(p)  # one template for train and inference
        if kind == "none":
            assert r["spans"]["trace"] is None and (a0, a1) == (0, len(text))
            assert text == answer_text(p)
            continue
        t0, t1 = r["spans"]["trace"]
        assert text == text[t0:t1] + " " + text[a0:a1]
        assert text[a0:a1] == ANSWER_OPEN + answer_text(p) + ANSWER_CLOSE
        think = text[t0:t1]
        label = r["trace"]["label"]
        head = THINK_OPEN + LABEL_SENTENCE[p.dataset] + label + ".\n"
        assert think.startswith(head)
        rest = think[len(head) : -len(THINK_CLOSE)]
        if kind == "label_only":
            assert rest == "" and label == p.label
        else:
            assert rest == RETRIEVAL_SENTENCE[p.dataset] + repr(r["trace"]["support_text"])


def test_answer_span_is_the_same_in_every_kind(problems):
    correct = build_sft_examples(problems, "correct")
    for kind, corruption in KINDS[1:]:
        other = build_sft_examples(problems, kind, corruption=corruption)
        for c, o in zip(correct, other, strict=True):
            assert (
                _assistant(c)[slice(*c["spans"]["answer"])]
                == _assistant(o)[slice(*o["spans"]["answer"])]
            )


def test_incorrect_defaults_to_both(problems):
    recs = build_sft_examples(problems[:3], "incorrect", seed=1)
    assert {r["corruption"] for r in recs} == {"both"}
    assert all(r["trace"]["label"] != p.label for r, p in zip(recs, problems, strict=False))


def test_bad_kind_template_corruption(problems):
    with pytest.raises(UnknownNameError, match="known: correct"):
        build_sft_examples(problems, "reasoning")
    with pytest.raises(UnknownNameError, match="reference"):
        build_sft_examples(problems, "correct", template="fancy")
    with pytest.raises(ConfigError, match="does not corrupt"):
        build_sft_examples(problems, "correct", corruption="label")
    with pytest.raises(RecordError, match="unique"):
        build_sft_examples([problems[0], problems[0]], "correct")


@pytest.fixture()
def good(by_id) -> tuple[dict, Problem]:
    p = by_id["cotemp-overlap-00004"]
    return build_sft_examples([p], "correct")[0], p


def test_validate_accepts_good_record(good):
    rec, p = good
    assert validate_sft(copy.deepcopy(rec), problem=p) == rec


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda r: r.pop("spans"), RecordError, "'spans'"),
        (lambda r: r.update(extra=1), RecordError, "'extra'"),
        (lambda r: r.update(kind="vanilla"), RecordError, "'kind'"),
        (lambda r: r.update(corruption="label"), RecordError, "corrupts nothing"),
        (lambda r: r["messages"].pop(0), RecordError, "'messages'"),
        (lambda r: r["spans"].update(answer=[0, 10_000]), RecordError, "assistant content length"),
        (lambda r: r["spans"].update(answer=[5, 5]), RecordError, "non-empty"),
        (lambda r: r["spans"].update(trace=None), RecordError, "give its span"),
        (
            lambda r: r["spans"].update(trace=[0, r["spans"]["answer"][0] + 3]),
            TraceFormatError,
            "overlaps",
        ),
        (
            lambda r: r["spans"].update(trace=[1, r["spans"]["trace"][1]]),
            TraceFormatError,
            "must start with",
        ),
        (lambda r: r["trace"].update(support_text=None), TraceFormatError, "states label=True"),
        (lambda r: r["trace"].update(support_text=["made up"]), TraceFormatError, "does not occur"),
    ],
)
def test_validate_rejects(good, mutate, error, match):
    rec = copy.deepcopy(good[0])
    mutate(rec)
    with pytest.raises(error, match=match):
        validate_sft(rec)


def test_validate_against_problem(good, by_id):
    rec, p = good
    wrong_label = copy.deepcopy(rec)
    target = TRACE_TEMPLATES.get("reference").render(p, "during", p.support_text)
    wrong_label["messages"][2]["content"] = target.text
    wrong_label["spans"] = {"trace": list(target.trace_span), "answer": list(target.answer_span)}
    wrong_label["trace"]["label"] = "during"
    validate_sft(wrong_label)  # consistent on its own...
    with pytest.raises(TraceFormatError, match="must state the gold"):
        validate_sft(wrong_label, problem=p)  # ...but not the gold of its problem
    with pytest.raises(RecordError, match="belongs to problem"):
        validate_sft(rec, problem=by_id["cotemp-equal-00001"])
    other_answer = copy.deepcopy(rec)
    other_answer["messages"][2]["content"] = _assistant(rec).replace(
        "['Royal Irish Academy']", "['Royal Irish Academx']"
    )
    with pytest.raises(TraceFormatError, match="does not contain the gold answer"):
        validate_sft(other_answer, problem=p)
    as_incorrect = dict(copy.deepcopy(rec), kind="incorrect", corruption="both")
    with pytest.raises(TraceFormatError, match="left the label step correct"):
        validate_sft(as_incorrect, problem=p)


def test_read_sft_roundtrip_and_line_numbers(tmp_path, problems):
    recs = build_sft_examples(problems, "incorrect", corruption="swap", seed=2)
    path = tmp_path / "sft.jsonl"
    write_jsonl(path, recs)
    assert read_sft(path) == recs
    bad = copy.deepcopy(recs[1])
    bad["spans"]["answer"] = [3, 1]
    path.write_text("\n".join(json.dumps(r) for r in (recs[0], bad)) + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"sft.jsonl, line 2: field 'spans.answer'"):
        read_sft(path)
    path.write_text("\n".join(json.dumps(r) for r in (recs[0], recs[0])) + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match="first used on line 1"):
        read_sft(path)


def test_cli_traces(tmp_path, capsys, problems):
    out = tmp_path / "sft.jsonl"
    code = cli.main(
        [
            "traces",
            "--problems",
            str(FIX / "cotemp10.jsonl"),
            "--kind",
            "incorrect",
            "--seed",
            "7",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    recs = read_sft(out)
    train = [p for p in problems if p.dataset == "cotemp" and p.split == "train"]
    assert [r["id"] for r in recs] == [p.id for p in train] and len(recs) == 6
    assert {r["corruption"] for r in recs} == {"both"}
    assert recs == build_sft_examples(train, "incorrect", corruption="both", seed=7)
    assert "wrote 6 SFT examples" in capsys.readouterr().out

    code = cli.main(
        [
            "traces",
            "--problems",
            str(FIX / "babi5.jsonl"),
            "--kind",
            "correct",
            "--split",
            "test",
            "--seed",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and [r["id"] for r in read_sft(out)] == [
        "babi-basic-induction-00003",
        "babi-positional-reasoning-00005",
    ]

    code = cli.main(
        [
            "traces",
            "--problems",
            str(FIX / "marco5.jsonl"),
            "--kind",
            "correct",
            "--corruption",
            "label",
            "--seed",
            "0",
            "--out",
            str(out),
        ]
    )
    assert code == 2 and "does not corrupt" in capsys.readouterr().err


def test_two_person_support_requires_the_asked_subject():
    """S2_*_O2 names two people; the support is the asked subject's fact only (issue 9)."""
    from tracekd_core.datasets.cotemp import match_support

    q = "While Ann Lee worked for Acme, which employer did Bo Ng work for at the same time?"
    facts = [
        "Ann Lee works for Acme from 2001 to 2005.",
        "Ann Lee works for Zed Corp from 2002 to 2003.",  # the other named person
        "Bo Ng works for Zed Corp from 2002 to 2004.",
    ]
    for triple in ("S2_R1_O2", "S2_R2_O2"):
        assert match_support(facts, ["Zed Corp"], triple, "P108", q) == ([2], "slot")
    # one-person template: unchanged (the subject named anywhere in the question)
    q1 = "While Ann Lee worked for Acme, which employer did Ann Lee work for at the same time?"
    assert match_support(facts, ["Zed Corp"], "S1_R1_O2", "P108", q1) == ([1], "slot")
