"""One home per dataset (datasets/spec.py): a new dataset is one module + one registry line.

The toy dataset below is the whole "module": its labels, prompt, trace sentences, answer format,
generator and solver. Registering it (one ``DATASETS.add`` line) makes it valid in configs, in
problem records, in the CLI choices, in prompts and in trace templates.
"""

from __future__ import annotations

import json

import pytest

from tracekd_core.cli import main
from tracekd_core.config import DataConfig
from tracekd_core.datasets import DatasetSpec, make_problems, solve, spec_field
from tracekd_core.datasets.spec import INSTRUCTION
from tracekd_core.records import Problem, read_problems
from tracekd_core.registry import DATASETS
from tracekd_core.seeding import derive_rng
from tracekd_core.traces.decompose import build_sft_examples
from tracekd_core.traces.prompts import user_prompt

# ---------------------------------------------------------------- the toy dataset's module
OBJECTS = ("ball", "box", "cup", "hat", "pen", "mug")
COLOURS = ("red", "blue", "green")
SIZES = ("small", "large")


def _generate(cfg: DataConfig, seed: int) -> list[Problem]:
    n_train, n_test = TOY.sizes(cfg)
    out = []
    for split, n in (("train", n_train), ("test", n_test)):
        rng = derive_rng(seed, "toy", split)
        for i in range(n):
            label = TOY.labels[i % 2]
            values = COLOURS if label == "colour" else SIZES
            objs = rng.sample(OBJECTS, 3)
            facts = [f"The {o} is {rng.choice(values)}." for o in objs]
            k = rng.randrange(3)
            question = f"What {label} is the {objs[k]}?"
            answer = facts[k].split()[-1].rstrip(".")
            out.append(
                Problem(f"toy-{split}-{i:03d}", "toy", split, question, facts, [answer], label, [k])
            )
    return out


def _solve(p: Problem) -> list[str]:
    obj = p.question.rstrip("?").split()[-1]
    return [f.split()[-1].rstrip(".") for f in p.context if f" {obj} " in f]


TOY = DatasetSpec(
    name="toy",
    labels=("colour", "size"),
    user_prompt=lambda p: f"{INSTRUCTION}{p.context!r}\nQuestion: {p.question}\n",
    label_sentence="The question asks about: ",
    retrieval_sentence="The fact I need is: ",
    answer_format=lambda p: p.answers[0],
    generate=_generate,
    load_folder=lambda folder, cfg, seed: [],
    load_hub=lambda cfg, seed: [],
    solve=_solve,
    reference_sizes=(6, 2),
)
# -------------------------------------------------------------------------------------------


@pytest.fixture
def toy(monkeypatch):
    """The one registry line (undone after the test)."""
    DATASETS.names()  # load the built-in datasets first
    monkeypatch.setitem(DATASETS._entries, "toy", TOY)
    return TOY


def test_unregistered_dataset_is_rejected_by_config_with_the_known_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'toy'; known: \['babi', 'cotemp'"):
        DataConfig(dataset="toy")


def test_a_registered_dataset_flows_through_data_make_and_decompose(toy, tmp_path):
    out = tmp_path / "toy.jsonl"
    argv = ["data", "make", "--dataset", "toy", "--n", "8", "--seed", "0", "--out", str(out)]
    assert main(argv) == 0
    problems = read_problems(out)  # validated: labels come from the spec
    assert {p.dataset for p in problems} == {"toy"}
    assert {p.label for p in problems} == {"colour", "size"}
    assert all(solve(p) == p.answers for p in problems)
    assert user_prompt(problems[0]).endswith(f"Question: {problems[0].question}\n")

    train = [p for p in problems if p.split == "train"]
    correct = build_sft_examples(train, "correct", template="reference", seed=0)
    target = correct[0]["messages"][-1]["content"]
    p = train[0]
    assert target == (
        f"<think>The question asks about: {p.label}.\nThe fact I need is: "
        f"{[p.context[p.support[0]]]!r}</think> <answer>{p.answers[0]}</answer>"
    )
    wrong = build_sft_examples(train, "incorrect", corruption="label", template="reference", seed=0)
    for ex, q in zip(wrong, train, strict=True):
        assert ex["trace"]["label"] != q.label and ex["trace"]["label"] in TOY.labels


def test_spec_field_sees_datasets_registered_later(toy):
    assert spec_field("label_sentence")["toy"] == "The question asks about: "
    assert "toy" in spec_field("labels") and len(spec_field("labels")) == 4


def test_the_registry_knows_every_builtin_dataset_from_its_module():
    from tracekd_core.datasets import babi, cotemp, marco

    for mod in (cotemp, babi, marco):
        spec = DATASETS.get(mod.__name__.rsplit(".", 1)[-1])
        assert spec.labels == mod.LABELS and spec.user_prompt is mod.user_prompt
    ps = make_problems(DataConfig(dataset="babi", n_train=2, n_test=1), 0)
    assert {p.label for p in ps} <= set(babi.LABELS)
    assert json.dumps(DATASETS.in_order()) == '["cotemp", "babi", "marco"]'
