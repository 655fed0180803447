"""Synthetic generators: every problem solvable from its support, determinism, balance, ids."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tracekd_core.config import DataConfig
from tracekd_core.datasets import babi, cotemp, make_problems, solve
from tracekd_core.errors import ConfigError
from tracekd_core.registry import DATASETS

DATASETS_ = ("cotemp", "babi", "marco")


@pytest.fixture(scope="module")
def problems() -> dict[str, list]:
    return {
        d: make_problems(DataConfig(dataset=d, n_train=440, n_test=110), seed=3) for d in DATASETS_
    }


def _json(ps) -> str:
    return json.dumps([p.to_dict() for p in ps], sort_keys=True)


def test_registry_names():
    assert set(DATASETS_) <= set(DATASETS.names())


@pytest.mark.parametrize("name", DATASETS_)
def test_every_problem_solved_from_support_alone(problems, name):
    for p in problems[name]:
        got = solve(p)
        assert sorted(got) == sorted(p.answers), (p.id, p.question, p.support_text, got)


@pytest.mark.parametrize("name", DATASETS_)
def test_sizes_splits_balance_and_ids(problems, name):
    ps = problems[name]
    assert Counter(p.split for p in ps) == {"train": 440, "test": 110}
    assert len({p.id for p in ps}) == len(ps)
    assert all(p.id.startswith(f"{name}-syn-{p.split}-") for p in ps)
    for split, n in (("train", 440), ("test", 110)):
        counts = Counter(p.label for p in ps if p.split == split)
        assert set(counts) == set(DATASETS.get(name).labels)
        assert max(counts.values()) - min(counts.values()) <= 1  # uniform, largest remainder
        assert sum(counts.values()) == n


@pytest.mark.parametrize("name", DATASETS_)
def test_determinism_and_seed_sensitivity(name):
    cfg = DataConfig(dataset=name, n_train=30, n_test=10)
    a, b, c = make_problems(cfg, 7), make_problems(cfg, 7), make_problems(cfg, 8)
    assert _json(a) == _json(b)
    assert _json(a) != _json(c)
    assert [p.id for p in a] == [p.id for p in c]  # ids name positions, not content


@pytest.mark.parametrize("name", DATASETS_)
def test_label_weights(name):
    first = DATASETS.get(name).labels[0]
    cfg = DataConfig(
        dataset=name,
        n_train=20,
        n_test=5,
        label_weights={first: 3, DATASETS.get(name).labels[1]: 1},
    )
    counts = Counter(p.label for p in make_problems(cfg, 0) if p.split == "train")
    assert counts == {first: 15, DATASETS.get(name).labels[1]: 5}


def test_bad_label_weights():
    with pytest.raises(ConfigError, match="label_weights"):
        make_problems(
            DataConfig(dataset="babi", n_train=5, n_test=1, label_weights={"no-such-task": 1}), 0
        )


def test_n_distractors_sets_context_size():
    small = make_problems(DataConfig(dataset="cotemp", n_train=20, n_test=1, n_distractors=2), 0)
    big = make_problems(DataConfig(dataset="cotemp", n_train=20, n_test=1, n_distractors=12), 0)
    # anchor + answers + distractors
    assert all(len(p.context) == 1 + len(p.answers) + 2 for p in small)
    assert all(len(p.context) == 1 + len(p.answers) + 12 for p in big)
    marco = make_problems(DataConfig(dataset="marco", n_train=10, n_test=1, n_distractors=3), 0)
    assert all(len(p.context) == 4 for p in marco)


def test_cotemp_interval_solver_over_whole_context(problems):
    """The gold answers and label follow from the dates of ALL facts (anchor included)."""
    for p in problems["cotemp"]:
        answers, label = cotemp.solve_by_time(p)
        assert answers == sorted(p.answers) and label == p.label, p.id
        assert p.meta["anchor"] not in p.support
        assert all(cotemp.parse_fact(c) is not None for c in p.context)


def test_cotemp_loader_rule_agrees_with_generator(problems):
    """Running the real-data support rule on synthetic rows recovers the generator's support."""
    for p in problems["cotemp"]:
        support, rule = cotemp.match_support(
            p.context,
            p.answers,
            p.meta["triple_element"],
            cotemp.asked_relation(p.question),
            p.question,
        )
        assert (support, rule) == (p.support, "slot"), p.id


def test_cotemp_questions_do_not_leak_the_label(problems):
    """Every label uses the same question wording: it must be read off the facts' dates."""
    by_label = {
        lab: {
            p.question.split(", ", 1)[1].split(" ", 1)[0]
            for p in problems["cotemp"]
            if p.label == lab
        }
        for lab in DATASETS.get("cotemp").labels
    }
    assert len({frozenset(v) for v in by_label.values()}) == 1
    assert all(p.question.endswith(" at the same time?") for p in problems["cotemp"])
    assert Counter(len(p.answers) >= 2 for p in problems["cotemp"] if p.label == "mix") == {
        True: sum(p.label == "mix" for p in problems["cotemp"])
    }


def test_babi_stories_roundtrip_through_native_text(problems):
    from tracekd_core.datasets.synth_babi import story_text

    for p in problems["babi"][:50]:
        text = story_text((p.context, p.question, p.answers[0], p.support))
        (q,) = babi.parse_stories(text)
        assert (q.context, q.question, q.answer, q.support) == (
            p.context,
            p.question,
            p.answers[0],
            p.support,
        )


def test_marco_answer_only_in_selected_passage(problems):
    for p in problems["marco"]:
        (sel,) = p.support
        assert p.answers[0].lower() in p.context[sel].lower()
        assert all(
            p.answers[0].lower() not in c.lower() for i, c in enumerate(p.context) if i != sel
        ), p.id


def test_prefix_stability():
    """Problem i of a split does not depend on how many problems are generated (same label)."""
    cfg = DataConfig(dataset="babi", n_train=22, n_test=11)
    a = make_problems(cfg, 0)
    b = make_problems(cfg.model_copy(update={"n_test": 22}), 0)
    assert [p.to_dict() for p in a if p.split == "train"] == [
        p.to_dict() for p in b if p.split == "train"
    ]


def test_unknown_source_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not 'synthetic'"):
        make_problems(DataConfig(dataset="babi", source=str(tmp_path / "nope")), 0)
