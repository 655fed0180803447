"""Answer-trace consistency: the solver on the stated label and facts (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracekd_core.evaluation.consistency import consistency
from tracekd_core.evaluation.parse import parse_output
from tracekd_core.records import read_problems
from tracekd_core.traces.decompose import TRACE_TEMPLATES

PROBLEMS = Path(__file__).parent / "fixtures" / "problems"


@pytest.mark.parametrize(("name", "min_covered"), [("cotemp10", 5), ("babi5", 3), ("marco5", 0)])
def test_gold_trace_and_gold_answer_are_consistent(name, min_covered):
    template = TRACE_TEMPLATES.get("reference")
    n = 0
    for prob in read_problems(PROBLEMS / f"{name}.jsonl"):
        text = template.render(prob, prob.label, prob.support_text).text
        c = consistency(prob, parse_output(text, prob.dataset))
        if c["consistent"] is None:  # solver does not cover this problem
            continue
        assert c["consistent"] is True, prob.id
        n += 1
    assert n >= min_covered


def test_synthetic_marco_pattern():
    from tracekd_core.evaluation.parse import ParsedOutput
    from tracekd_core.records import Problem

    p = Problem(
        id="m",
        dataset="marco",
        split="test",
        question="who founded Acme Mills",
        context=["Other text.", "Acme Mills was founded by Ann Berg in 1901."],
        answers=["Ann Berg"],
        label="PERSON",
        support=[1],
    )
    good = ParsedOutput("t", "PERSON", [p.context[1]], "Ann Berg", ["Ann Berg"], "ok")
    assert consistency(p, good) == {"consistent": True, "derived": ["Ann Berg"]}
    bad = ParsedOutput("t", "PERSON", [p.context[0]], "Ann Berg", ["Ann Berg"], "ok")
    assert consistency(p, bad) == {"consistent": False, "derived": []}


def test_gold_answer_after_other_facts_does_not_follow():
    prob = next(p for p in read_problems(PROBLEMS / "cotemp10.jsonl") if len(p.context) > 2)
    others = [f for i, f in enumerate(prob.context) if i not in prob.support]
    template = TRACE_TEMPLATES.get("reference")
    text = template.render(prob, prob.label, others).text  # wrong facts, gold answer kept
    c = consistency(prob, parse_output(text, prob.dataset))
    assert c["consistent"] is False


def test_no_trace_or_no_answer_is_unevaluated():
    prob = read_problems(PROBLEMS / "babi5.jsonl")[0]
    assert consistency(prob, parse_output("garden", "babi"))["consistent"] is None
    assert consistency(prob, None)["consistent"] is None
