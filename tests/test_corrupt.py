"""Tests of corrupt.py: every corrupted trace is verifiably wrong, seeded and answer-preserving."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from tracekd_core.errors import ConfigError, RecordError, TraceFormatError, UnknownNameError
from tracekd_core.records import Problem, read_problems
from tracekd_core.registry import CORRUPTIONS, DATASETS
from tracekd_core.seeding import derive_rng
from tracekd_core.traces.corrupt import (
    CorruptedTrace,
    check_corrupted,
    corrupt_all,
    distractors,
    swap_donors,
    wrong_label,
)
from tracekd_core.traces.decompose import build_sft_examples
from tracekd_core.traces.stated import StatedTrace

FIX = Path(__file__).parent / "fixtures" / "problems"
NAMES = ("label", "retrieval", "both", "swap")
SEEDS = (0, 1, 2, 3, 4)


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return [p for f in ("cotemp10", "babi5", "marco5") for p in read_problems(FIX / f"{f}.jsonl")]


def test_registry_names_and_unknown():
    assert CORRUPTIONS.names() == sorted(NAMES)
    with pytest.raises(UnknownNameError, match="unknown corruption 'shuffle'; known: both"):
        CORRUPTIONS.get("shuffle")
    with pytest.raises(UnknownNameError):
        corrupt_all([], "shuffle", seed=0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_verifiably_wrong_and_answer_kept(problems, name, seed):
    traces = corrupt_all(problems, name, seed=seed)
    assert len(traces) == len(problems)
    for p, t in zip(problems, traces, strict=True):
        assert isinstance(t, CorruptedTrace)
        gold_set = set(p.support_text)
        if name in ("label", "both"):
            assert t.label != p.label and t.label in DATASETS.get(p.dataset).labels
        if name in ("retrieval", "both", "swap"):
            assert set(t.support_text) != gold_set
        if name == "label":
            assert (t.support, t.support_text) == (p.support, p.support_text)
        if name == "retrieval":
            assert t.label == p.label
        if name in ("retrieval", "both"):
            assert t.support_text == [p.context[i] for i in t.support]
            assert not set(t.support) & set(p.support)
            assert t.support == sorted(t.support)
            if p.dataset in ("cotemp", "marco"):  # no answer-bearing distractor
                assert not any(a.lower() in s.lower() for a in p.answers for s in t.support_text)
        check_corrupted(p, t, name)
    # the gold answer is unchanged: same <answer> span as the correct-trace target
    correct = build_sft_examples(problems, "correct")
    wrong = build_sft_examples(problems, "incorrect", corruption=name, seed=seed)
    for c, w in zip(correct, wrong, strict=True):
        cc, wc = c["messages"][2]["content"], w["messages"][2]["content"]
        assert cc[slice(*c["spans"]["answer"])] == wc[slice(*w["spans"]["answer"])]


def test_retrieval_count_matches_gold_when_available(problems):
    for p, t in zip(problems, corrupt_all(problems, "retrieval", seed=0), strict=True):
        available = len(p.context) - len(p.support)
        assert len(t.support) == min(len(p.support), available), p.id


def test_empty_fallback_is_documented_and_wrong(problems):
    # bAbI qa17: both story lines support the answer, so no distractor exists
    p = next(p for p in problems if p.id == "babi-positional-reasoning-00005")
    t = corrupt_all([p], "retrieval", seed=0)[0]
    assert (t.support, t.support_text, t.label) == ([], [], p.label)


def test_answer_mentions_are_excluded_case_insensitively():
    p = Problem(
        id="c",
        dataset="cotemp",
        split="train",
        question="Q?",
        context=[
            "A works for Acme from 2001 to 2003.",
            "A works for ACME in 2002.",
            "A works for Acmeville Bank in 1999.",
            "A works for Zeta in 1990.",
        ],
        answers=["Acme"],
        label="equal",
        support=[0],
    )
    seen = {tuple(distractors(p, random.Random(s))) for s in range(40)}
    assert seen == {(2,), (3,)}  # never item 1 (mentions ACME); item 2 is another word


def test_duplicate_support_text_is_not_a_distractor():
    p = Problem(
        id="b",
        dataset="babi",
        split="train",
        question="Where is Mary?",
        context=["Mary went to the kitchen.", "Mary went to the kitchen.", "John left."],
        answers=["kitchen"],
        label="single-supporting-fact",
        support=[1],
    )
    assert {tuple(distractors(p, random.Random(s))) for s in range(20)} == {(2,)}


def test_wrong_label_is_uniform_over_the_others(problems):
    p = next(p for p in problems if p.dataset == "cotemp")
    rng = random.Random(0)
    counts = Counter(wrong_label(p, rng) for _ in range(600))
    assert set(counts) == set(DATASETS.get("cotemp").labels) - {p.label}
    assert min(counts.values()) > 150  # each of the 3 others has expectation 200


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_seed_sensitive(problems, name):
    a = corrupt_all(problems, name, seed=11)
    assert a == corrupt_all(problems, name, seed=11)
    assert a != corrupt_all(problems, name, seed=12)


@pytest.mark.parametrize("name", ("label", "retrieval", "both"))
def test_per_problem_streams(problems, name):
    """Dropping problems never changes another problem's corruption."""
    full = dict(zip((p.id for p in problems), corrupt_all(problems, name, seed=5), strict=True))
    subset = problems[::3]
    for p, t in zip(subset, corrupt_all(subset, name, seed=5), strict=True):
        assert full[p.id] == t
        assert t == CORRUPTIONS.get(name)(p, derive_rng(5, "corrupt", name, p.id))


def test_swap_is_a_constrained_derangement(problems):
    for seed in SEEDS:
        donors = swap_donors(problems, seed)
        assert set(donors) == {p.id for p in problems}
        assert Counter(d.id for d in donors.values()) == Counter(p.id for p in problems)
        for p in problems:
            d = donors[p.id]
            assert d.id != p.id and d.dataset == p.dataset
            assert set(d.support_text) != set(p.support_text)
        traces = corrupt_all(problems, "swap", seed=seed)
        for p, t in zip(problems, traces, strict=True):
            assert t.swapped_from == donors[p.id].id and t.support is None
            assert (t.label, t.support_text) == (donors[p.id].label, donors[p.id].support_text)


def test_swap_repairs_equal_support_pairs():
    texts = ["Mary went to the kitchen.", "Mary went to the kitchen.", "John left.", "Sue ran."]
    ps = [
        Problem(
            id=f"b{i}",
            dataset="babi",
            split="train",
            question="Q?",
            context=[t],
            answers=["x"],
            label="single-supporting-fact",
            support=[0],
        )
        for i, t in enumerate(texts)
    ]
    for seed in range(30):
        donors = swap_donors(ps, seed)
        assert donors["b0"].id != "b1" and donors["b1"].id != "b0"


def test_swap_errors(problems):
    with pytest.raises(RecordError, match="at least two"):
        corrupt_all(problems[:1], "swap", seed=0)
    with pytest.raises(ConfigError, match="needs pool"):
        CORRUPTIONS.get("swap")(problems[0], random.Random(0))
    same = [
        Problem(
            id=f"b{i}",
            dataset="babi",
            split="train",
            question="Q?",
            context=["Mary went to the kitchen."],
            answers=["kitchen"],
            label="single-supporting-fact",
            support=[0],
        )
        for i in range(3)
    ]
    with pytest.raises(RecordError, match="cannot make this trace wrong"):
        corrupt_all(same, "swap", seed=0)


def test_check_corrupted_rejects_correct_steps(problems):
    p = problems[0]
    gold = StatedTrace(p.label, list(p.support), p.support_text)
    for name in NAMES:
        with pytest.raises(TraceFormatError, match=p.id):
            check_corrupted(p, gold, name)
    # 'label' must keep the retrieval step gold
    other = next(i for i in range(len(p.context)) if i not in p.support)
    bad = StatedTrace("mix" if p.label != "mix" else "equal", [other], [p.context[other]])
    with pytest.raises(TraceFormatError, match="keep the retrieval step gold"):
        check_corrupted(p, bad, "label")


def test_corrupted_retrieval_never_states_the_anchor():
    """The question's own event fact is not a distractor (issue 9: 57.5% of synthetic ones)."""
    from tracekd_core.config import DataConfig
    from tracekd_core.datasets import make_problems
    from tracekd_core.datasets.cotemp import anchor_index
    from tracekd_core.traces.corrupt import corrupt_all

    cfg = DataConfig(dataset="cotemp", source="synthetic", n_train=60, n_test=1, n_distractors=3)
    probs = [p for p in make_problems(cfg, seed=0) if p.split == "train"]
    assert all(anchor_index(p) is not None for p in probs)
    for name in ("retrieval", "both"):
        for p, t in zip(probs, corrupt_all(probs, name, seed=0), strict=True):
            assert p.context[anchor_index(p)] not in t.support_text, (name, p.id)
    # the anchor is found on real-data problems (no meta) from the question
    p = probs[0]
    bare = Problem(**{**p.__dict__, "meta": {"triple_element": p.meta["triple_element"]}})
    assert anchor_index(bare) == anchor_index(p)


def test_synthetic_marco_distractors_are_mostly_hard_negatives(tmp_path):
    """Most corrupted MARCO retrieval steps share a content word with the question."""
    import pandas as pd

    from tracekd_core.config import DataConfig
    from tracekd_core.datasets import make_problems
    from tracekd_core.records import write_problems
    from tracekd_core.report import tables as report

    cfg = DataConfig(dataset="marco", source="synthetic", n_train=200, n_test=1, n_distractors=2)
    path = tmp_path / "marco.jsonl"
    write_problems(path, make_problems(cfg, seed=0))
    t = report.corruption_relevance_table(pd.DataFrame({"problems": [str(path)]}), ("retrieval",))
    assert t["shares_question_word"].iloc[0] > 0.55  # 0.355 with the old 25% hard negatives


@pytest.mark.parametrize(("dataset", "floor"), [("babi", 0.5), ("marco", 0.55)])
def test_synthetic_distractors_share_a_question_word_at_default_size(tmp_path, dataset, floor):
    """Issue 9: ~62% (bAbI) and ~58% (MARCO, default 8 distractors) shared no question word."""
    import pandas as pd

    from tracekd_core.config import DataConfig
    from tracekd_core.datasets import make_problems
    from tracekd_core.records import write_problems
    from tracekd_core.report import tables as report

    cfg = DataConfig(dataset=dataset, source="synthetic", n_train=330, n_test=1)
    path = tmp_path / f"{dataset}.jsonl"
    write_problems(path, make_problems(cfg, seed=0))
    t = report.corruption_relevance_table(pd.DataFrame({"problems": [str(path)]}), ("retrieval",))
    assert t["shares_question_word"].iloc[0] > floor  # before: 0.376 (bAbI), 0.415 (MARCO)


def test_babi_hard_negatives_keep_the_answer():
    """A single-supporting-fact hard negative is an earlier move of the asked person."""
    import random

    from tracekd_core.datasets import babi, synth_babi

    n_hard = 0
    for i in range(60):
        text = synth_babi.make_story("single-supporting-fact", random.Random(i), 8)
        (q,) = babi.parse_stories(text)
        who = q.question.split()[-1].rstrip("?")
        p = babi.to_problem(q, 1, "train", f"b{i}", "<t>")
        assert babi.solve(p) == p.answers
        n_hard += sum(who in c for j, c in enumerate(p.context) if j not in p.support)
    assert n_hard > 60  # more than one earlier move of the asked person per story on average
