"""Parser tests: the adversarial corpus, the trace template contract, the real reference outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracekd_core.evaluation.parse import STATUSES, ParsedOutput, parse_list_repr, parse_output
from tracekd_core.records import read_problems
from tracekd_core.registry import PARSERS

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = [json.loads(line) for line in (FIXTURES / "parse" / "corpus.jsonl").open()]
REFERENCE = Path("/work/shared/reference/outputs/cotemp")


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_adversarial_corpus(case):
    parsed = parse_output(case["text"], case["dataset"])
    assert parsed.status in STATUSES
    got = parsed.to_dict()
    for key, want in case["expect"].items():
        assert got[key] == want, (case["name"], key)


def test_corpus_covers_every_status():
    assert {c["expect"]["status"] for c in CORPUS} == set(STATUSES)


def test_answer_absent_exactly_when_status_says_so():
    for case in CORPUS:
        p = parse_output(case["text"], case["dataset"])
        if p.status in ("no_answer", "truncated"):
            assert p.answer is None and p.answer_items is None
        if p.status in ("ok", "no_trace", "untagged_answer"):
            assert p.answer and p.answer_items is not None
        if p.status == "no_trace":
            assert p.trace is None and p.label_step is None


def test_issues_are_recorded():
    by_name = {c["name"]: c for c in CORPUS}
    p = parse_output(by_name["llama_ok"]["text"], "cotemp")
    assert p.issues == ["role_header"]
    p = parse_output(by_name["text_after_answer"]["text"], "cotemp")
    assert "text_after_answer" in p.issues
    p = parse_output(by_name["close_tags_only"]["text"], "cotemp")
    assert "stray_close_answer" in p.issues


@pytest.mark.parametrize(
    "text",
    [
        None,
        3,
        "<think>" * 50,
        "</think>" * 3,
        "<answer>" * 4,
        "</answer></answer>",
        "[[[",
        "['a', ",
        "is: " * 20,
    ],
)
def test_garbage_never_raises(text):
    p = parse_output(text, "cotemp")
    assert isinstance(p, ParsedOutput) and p.status in STATUSES


def test_list_repr_fallbacks():
    assert parse_list_repr("['a', 'b']") == ["a", "b"]
    assert parse_list_repr("['it's', 'b']") == ["it's", "b"]
    assert parse_list_repr("['cut here") == ["cut here"]
    assert parse_list_repr("'quoted'") == ["quoted"]
    assert parse_list_repr("  ") == []
    assert parse_list_repr("[1, 2]") == ["1", "2"]


def test_registry_entry():
    assert "reference" in PARSERS
    assert PARSERS.get("reference")("green", "babi").answer == "green"


@pytest.mark.parametrize("name", ["cotemp10", "babi5", "marco5"])
def test_round_trip_with_the_trace_template(name):
    """What ``decompose``'s reference template writes, the parser reads back exactly."""
    decompose = pytest.importorskip("tracekd_core.traces.decompose")
    path = FIXTURES / "problems" / f"{name}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present")
    template = decompose.TRACE_TEMPLATES.get("reference")
    for prob in read_problems(path):
        text = template.render(prob, prob.label, prob.support_text).text
        p = parse_output("assistant\n\n" + text, prob.dataset)
        assert p.status == "ok"
        assert p.label_step == prob.label
        assert p.retrieval_step == prob.support_text
        want = list(prob.answers) if prob.dataset == "cotemp" else [prob.answers[0]]
        assert p.answer_items == want
        vanilla = template.render(prob, None, None).text
        v = parse_output(vanilla, prob.dataset)
        assert v.status == "no_trace" and v.answer_items == want


def _tag_status(text: str) -> str:
    """Expected status from tag counts alone (independent of the parser's logic)."""
    n = [text.count(t) for t in ("<think>", "</think>", "<answer>", "</answer>")]
    if n == [1, 1, 1, 1]:
        return "ok"
    if n[:2] == [1, 1] and n[2:] == [0, 0]:
        return "untagged_answer" if text.split("</think>")[1].strip() else "no_answer"
    return "malformed"


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference outputs absent")
def test_real_reference_outputs():
    n = 0
    for path in sorted(REFERENCE.glob("*.jsonl")):
        incorrect = "incorrect" in path.name
        for line in path.open(encoding="utf-8"):
            d = json.loads(line)
            p = parse_output(d["prediction"], "cotemp")
            assert p.status == _tag_status(d["prediction"]), d["prediction"][-200:]
            assert "role_header" in p.issues
            if p.status == "ok" and not incorrect and "I need to use" in p.trace:
                # "following facts" / "following information": both are retrieval sentences
                assert p.retrieval_step, p.trace
            n += 1
    assert n == 1900


def test_untagged_answer_takes_only_the_final_line():
    by_name = {c["name"]: c for c in CORPUS}
    p = parse_output(by_name["untagged_restates_trace"]["text"], "cotemp")
    assert p.status == "untagged_answer" and "untagged_answer" in p.issues
    assert "I need to use" not in p.answer  # the restated trace is not the answer
    p = parse_output("<think>x is: equal.</think>\nfirst line\nlast line", "cotemp")
    assert (p.status, p.answer) == ("untagged_answer", "last line")


def test_offsets_survive_length_changing_lower():
    """``"İ".lower()`` has two code points: offsets come from the original string."""
    assert len("İ".lower()) == 2  # the premise of the bug
    text = "<think>İİİ is: equal.</think> <answer>['İnönü']</answer>"
    p = parse_output(text, "cotemp")
    assert p.status == "ok" and p.trace == "İİİ is: equal." and p.answer_items == ["İnönü"]
