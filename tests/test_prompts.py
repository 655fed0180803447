"""Tests of prompts.py: exact user turns per dataset (PAPER_NOTES 2.1-2.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracekd_core.errors import ConfigError
from tracekd_core.records import Problem, read_problems
from tracekd_core.registry import DATASETS
from tracekd_core.traces.prompts import (
    REFERENCE_SYSTEM_PROMPT,
    SYSTEM_PROMPTS,
    prompt_messages,
    system_prompt,
    user_prompt,
)

FIX = Path(__file__).parent / "fixtures" / "problems"


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    ps = [p for f in ("cotemp10", "babi5", "marco5") for p in read_problems(FIX / f"{f}.jsonl")]
    return {p.id: p for p in ps}


def test_cotemp_user_prompt_is_list_repr_of_facts(problems):
    p = problems["cotemp-equal-00002"]
    text = user_prompt(p)
    assert text.startswith(
        "Answer the question based on the context:\n['Peter Hallam works for "
        "Imperial College London from 2002 to 2010.', "
    )
    # a fact with an apostrophe is rendered by repr with double quotes, as the reference did
    assert '"Peter Hallam works for King\'s College London from 1994 to 2001."' in text
    assert text.endswith(
        "Peter Hallam worked for BBC in September, 2005.']\nQuestion: While Peter "
        "Hallam was working for King's College London, which employer did Peter "
        "Hallam work for within the same time interval? Only return the answer.\n"
    )
    assert text.count("\n") == 3


def test_babi_user_prompt_joins_lines():
    p = Problem(
        id="b",
        dataset="babi",
        split="train",
        question="Where is Mary?",
        context=["Mary moved to the bathroom.", "John went to the hallway."],
        answers=["bathroom"],
        label="single-supporting-fact",
        support=[0],
    )
    assert user_prompt(p) == (
        "Answer the question based on the context:\nMary moved to the "
        "bathroom.\nJohn went to the hallway.\nQuestion: Where is Mary? "
        "Only return the answer.\n"
    )


def test_marco_user_prompt_puts_instruction_on_own_line(problems):
    p = Problem(
        id="m",
        dataset="marco",
        split="train",
        question="who wrote frankenstein",
        context=["Mary Shelley wrote it.", "It was published in 1818."],
        answers=["Mary Shelley"],
        label="PERSON",
        support=[0],
    )
    assert user_prompt(p) == (
        "Answer the question based on the context:\n['Mary Shelley wrote "
        "it.', 'It was published in 1818.']\nQuestion: who wrote "
        "frankenstein\nOnly return the answer.\n"
    )
    assert user_prompt(problems["marco-NUMERIC-00002"]).endswith(
        "Question: how many calories in a banana\nOnly return the answer.\n"
    )


def test_every_dataset_has_a_user_prompt():
    for name in DATASETS.names():
        spec = DATASETS.get(name)
        p = Problem(
            id="q",
            dataset=name,
            split="test",
            question="Why?",
            context=["c."],
            answers=["a"],
            label=spec.labels[0],
            support=[0],
        )
        assert user_prompt(p).startswith("Answer the question based on the context:\n")
        assert "Question: Why?" in user_prompt(p)


def test_unknown_dataset_raises_config_error():
    p = Problem(
        id="z",
        dataset="squad",
        split="train",
        question="Q?",
        context=["c"],
        answers=["a"],
        label="x",
        support=[0],
    )
    with pytest.raises(ConfigError, match="squad"):
        user_prompt(p)


def test_system_prompts():
    assert system_prompt() == SYSTEM_PROMPTS["neutral"]
    assert "Llama" not in system_prompt()
    ref = system_prompt("reference")
    assert ref == (
        "You are Llama, an AI assistant created to be helpful and honest. Your "
        "knowledge spans a wide range of topics, allowing you to engage in substantive "
        "conversations and provide analysis on complex subjects."
    )
    assert system_prompt("reference", model_name="Qwen").startswith("You are Qwen, an AI")
    assert "{name}" in REFERENCE_SYSTEM_PROMPT
    with pytest.raises(ConfigError, match="neutral"):
        system_prompt("pirate")


def test_prompt_messages(problems):
    for p in problems.values():
        msgs = prompt_messages(p, system="reference")
        assert [m["role"] for m in msgs] == ["system", "user"]
        assert msgs[0]["content"] == system_prompt("reference")
        assert msgs[1]["content"] == user_prompt(p)
        assert p.question in msgs[1]["content"]
