"""Inference-time interventions (chapter 7): forced prefixes, records, summary, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracekd_core.config import GenerateConfig
from tracekd_core.experiment import intervene as iv
from tracekd_core.records import read_problems
from tracekd_core.traces.decompose import TRACE_TEMPLATES

PROBLEMS = Path(__file__).parent / "fixtures" / "problems" / "cotemp10.jsonl"


def _preds(problems):
    t = TRACE_TEMPLATES.get("reference")
    return {
        p.id: {"id": p.id, "output": t.render(p, p.label, p.support_text).text} for p in problems
    }


def test_forced_traces_every_kind():
    probs = read_problems(PROBLEMS)[:3]
    own = {p.id: iv.parse_output(_preds(probs)[p.id]["output"], "cotemp").trace for p in probs}
    t = iv.forced_traces(probs, own, iv.KINDS, seed=0)
    row = t[probs[0].id]
    assert set(row) == set(iv.KINDS)
    assert row["own"] == row["gold"]  # the prediction is the gold target here
    assert row["other"] == t[probs[1].id]["gold"] != row["gold"]
    assert len(row["filler"]) == len(row["own"]) and set(row["filler"]) == {"."}
    assert row["truncated"] and len(row["truncated"].split()) == len(row["own"].split()) // 2
    assert row["label"] != row["gold"] and row["empty"] == ""
    no_own = iv.forced_traces(probs[:1], {}, iv.KINDS)[probs[0].id]
    assert not {"own", "truncated", "filler", "other"} & set(no_own)


def test_summary_counts_by_hand():
    recs = []
    for i in range(6):
        recs.append(
            {
                "id": f"p{i}",
                "kind": "filler",
                "answer_correct": i < 1,
                "baseline_correct": i < 4,
                "changed": i >= 1,
            }
        )
    s = iv.summarize_interventions(recs, n_boot=100)["kinds"]["filler"]
    assert (s["n"], s["accuracy"], s["baseline_accuracy"]) == (6, pytest.approx(1 / 6), 4 / 6)
    assert s["change_rate"] == pytest.approx(5 / 6)
    assert (s["mcnemar_a_only"], s["mcnemar_b_only"], s["mcnemar_p"]) == (3, 0, 0.25)


def test_run_interventions_one_batch_per_problem(tiny_student, monkeypatch):
    model, tok = tiny_student
    probs = read_problems(PROBLEMS)[:2]
    calls = []
    import tracekd_core.students.generate as gen

    real = gen.generate_batch

    def spy(model, tok, prompts, cfg, seed=0):
        calls.append(prompts)
        return real(model, tok, prompts, cfg, seed)

    monkeypatch.setattr(gen, "generate_batch", spy)
    cfg = GenerateConfig(max_new_tokens=4, dtype="float32")
    recs = iv.run_interventions(model, tok, probs, _preds(probs), cfg, kinds=iv.KINDS)
    assert len(calls) == 2 and all(len(c) == len(iv.KINDS) for c in calls)
    # all prompts of a batch share the rendered prompt as a common token prefix
    for c in calls:
        n = min(len(x) for x in c)
        common = next((i for i in range(n) if len({x[i] for x in c}) > 1), n)
        assert common > 20
    assert len(recs) == 2 * len(iv.KINDS)
    assert {r["kind"] for r in recs} == set(iv.KINDS)
    assert all(r["baseline_correct"] for r in recs)  # gold targets as predictions
    assert all(isinstance(r["changed"], bool) for r in recs)


def test_cli_intervene(tmp_path):
    from tracekd_core.cli import main

    probs = read_problems(PROBLEMS)
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in _preds(probs).values()))
    out = tmp_path / "iv"
    rc = main(
        [
            "intervene",
            "--student",
            "tiny-random",
            "--problems",
            str(PROBLEMS),
            "--predictions",
            str(pred),
            "--out",
            str(out),
            "--n-problems",
            "2",
            "--kinds",
            "gold,empty",
            "--max-new-tokens",
            "3",
        ]
    )
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["kinds"]) == {"gold", "empty"} and summary["inputs"]["n_problems"] == 2
    assert sum(1 for _ in (out / "items.jsonl").open()) == 4
    assert (
        main(
            [
                "intervene",
                "--student",
                "tiny-random",
                "--problems",
                str(PROBLEMS),
                "--predictions",
                str(pred),
                "--out",
                str(out),
                "--kinds",
                "nope",
            ]
        )
        == 2
    )


def test_intervention_pooled_test_counts_problems_not_seeds():
    from tracekd_core.experiment.intervene import summarize_interventions

    def recs(seeds):
        return [
            {
                "id": str(i),
                "seed": s,
                "kind": "filler",
                "answer_correct": i < 10,
                "changed": i >= 10,
                "baseline_correct": i < 25,
            }
            for i in range(40)
            for s in seeds
        ]

    one = summarize_interventions(recs([0]), n_boot=100)["kinds"]["filler"]
    three = summarize_interventions(recs([0, 1, 2]), n_boot=100)["kinds"]["filler"]
    assert three["mcnemar_b_only"] == 0 and three["mcnemar_a_only"] == 45  # 15 problems x 3
    # same evidence, up to the small-sample factor of the cluster-robust covariance
    assert three["pooled_p"] == pytest.approx(one["pooled_p"], rel=0.15)
    assert three["mcnemar_p"] < one["mcnemar_p"] / 1000  # (problem, seed) pairs: seeds as rows
    assert (one["enough_seeds"], three["enough_seeds"]) == (False, True)
