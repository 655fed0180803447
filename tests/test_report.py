"""Book tables on hand-built items: rates, seed spread, pairing, the disconnect table."""

import pandas as pd
import pytest

from tracekd_core.report import disconnect
from tracekd_core.report import tables as report


def _items():
    rows = []
    # 10 problems; 'correct' answers 6 right in seed 0 and 4 right in seed 1; 'incorrect' 3 right
    for seed, n_right in ((0, 6), (1, 4)):
        for i in range(10):
            rows.append(
                {
                    "id": f"p{i}",
                    "dataset": "cotemp",
                    "student": "s",
                    "label": "equal",
                    "condition": "correct",
                    "seed": seed,
                    "answer_correct": i < n_right,
                    "label_correct": True,
                    "retrieval_correct": i % 2 == 0,
                    "trace_correct": i % 2 == 0,
                    "status": "ok",
                }
            )
            rows.append(
                {
                    "id": f"p{i}",
                    "dataset": "cotemp",
                    "student": "s",
                    "label": "equal",
                    "condition": "incorrect",
                    "seed": seed,
                    "answer_correct": i < 3,
                    "label_correct": False,
                    "retrieval_correct": None,
                    "trace_correct": None,
                    "status": "no_trace",
                }
            )
    return pd.DataFrame(rows)


def test_rate_table_has_n_and_wilson_ci():
    t = report.rate_table(_items(), "answer_correct", ["condition", "seed"])
    row = t[(t["condition"] == "correct") & (t["seed"] == 0)].iloc[0]
    assert (row["k"], row["n"], row["rate"]) == (6, 10, 0.6)
    assert row["lo"] < 0.6 < row["hi"]
    # NaN (unevaluated) values are dropped from n
    t2 = report.rate_table(_items(), "trace_correct", ["condition"])
    assert t2.set_index("condition").loc["incorrect", "n"] == 0


def test_seed_spread_reports_each_seed():
    t = report.seed_spread_table(_items())
    row = t[t["condition"] == "correct"].iloc[0]
    assert row["n_seeds"] == 2 and row["mean"] == pytest.approx(0.5)
    assert row["sd"] == pytest.approx(0.1414, abs=1e-3)
    assert row["per_seed"] == "0.600, 0.400"


def test_paired_table_pairs_on_same_items_per_seed():
    t = report.paired_table(_items(), baseline="correct", others=["incorrect"], n_boot=200)
    assert list(t["seed"]) == [0, 1]
    s0 = t[t["seed"] == 0].iloc[0]
    # seed 0: correct right on p0-p5, incorrect right on p0-p2 -> 3 discordant, all favour correct
    assert (s0["mcnemar_a_only"], s0["mcnemar_b_only"]) == (3, 0)
    assert s0["diff_diff"] == pytest.approx(-0.3)


def test_disconnect_table_counts_and_tt_share():
    dis = disconnect.disconnect_table(_items()[lambda d: d["condition"] == "correct"])
    tr = dis[(dis["step"] == "trace") & (dis["seed"] == 0)].iloc[0]
    # seed 0: answer right for p0-p5, trace right for even ids -> tt = p0,p2,p4
    assert (tr["tt"], tr["tf"], tr["ft"], tr["ff"]) == (3, 3, 2, 2)
    assert tr["tt_share"] == pytest.approx(0.3)
    lab = dis[(dis["step"] == "label") & (dis["seed"] == 0)].iloc[0]
    assert (lab["tt"], lab["ft"], lab["tf"], lab["ff"]) == (6, 4, 0, 0)


def test_scoring_modes_and_reference_tables():
    # reference credits every even problem on top of strict: p0, p2, ... p8 -> 5 of 10
    items = _items().assign(
        answer_correct_strict=lambda d: d["answer_correct"],
        answer_correct_reference=lambda d: (
            d["answer_correct"] | d["id"].isin([f"p{i}" for i in (0, 2, 4, 6, 8)])
        ),
    )
    t = report.scoring_modes_table(items).loc[("cotemp", "s")]
    # correct: strict (6 + 4) / 20 = 0.5; reference adds p6, p8 (seed 0) and p4, p6, p8 (seed 1)
    assert t.loc["correct", "answer_correct_strict"] == pytest.approx(0.5)
    assert t.loc["correct", "reference_minus_strict"] == pytest.approx(5 / 20)
    # incorrect: strict 3 of 10 per seed; reference adds p4, p6, p8 in both seeds
    assert t.loc["incorrect", "reference_minus_strict"] == pytest.approx(6 / 20)
    assert t.loc["incorrect", "n_items"] == 20
    ref = report.reference_results()
    assert {"dataset", "model", "condition", "label", "accuracy_pct"} <= set(ref.columns)
    llama = ref.query(
        "dataset == 'cotemp' and model == 'llama-3.2-1b' and condition == 'correct'"
        " and label == 'overall'"
    )
    assert llama["accuracy_pct"].item() == 42.4


def test_clustered_accuracy_table_pools_seeds_by_problem():
    t = report.clustered_accuracy_table(_items(), n_boot=300)
    row = t[t["condition"] == "correct"].iloc[0]
    assert row["rate"] == pytest.approx(0.5) and row["n_problems"] == 10 and row["n_seeds"] == 2
    assert row["lo"] < 0.5 < row["hi"]
    assert row["per_seed"] == "0.600, 0.400"


def test_pooled_paired_table_primary_and_seeds():
    t = report.pooled_paired_table(_items(), baseline="correct", n_boot=300)
    assert list(t["other"]) == ["incorrect"] and bool(t["primary"].iloc[0])
    # per problem: correct 1,1,1,1,.5,.5,0,0,0,0; incorrect 1,1,1,0,...: diff = (0.3 - 0.5)
    assert t["diff"].iloc[0] == pytest.approx(-0.2)
    assert t["verdict"].iloc[0] == "not enough seeds for a verdict"  # 2 seeds < 3


def test_disconnect_table_has_stratified_and_exact_tests():
    items = _items()
    items = items[items["condition"] == "correct"].copy()
    items.loc[items["id"].isin(["p5", "p6", "p7", "p8", "p9"]), "label"] = "during"
    dis = disconnect.disconnect_table(items, by=("dataset", "student", "condition"))
    row = dis[dis["step"] == "trace"].iloc[0]
    assert row["cmh_strata"] == 2 and row["test"] in ("chi2", "fisher")
    lab = dis[dis["step"] == "label"].iloc[0]  # label step always right: empty margin
    assert lab["test"] == "none" and pd.isna(lab["odds_ratio"])
    assert {"p_test_holm", "cmh_p_holm", "cmh_or", "p_fisher"} <= set(dis.columns)


def test_findings_say_not_enough_seeds_and_no_best_on_ties():
    from tracekd_core.report.findings import findings_markdown

    text = findings_markdown(_items())
    assert "not enough seeds for a verdict" in text and "Primary test" in text
    assert "Strict scoring" in text and "Per-seed CMH p" in text
    assert "Primary association test" in text and "seeds pooled" not in text


def test_best_condition_only_when_it_beats_the_runner_up():
    from tracekd_core.report.findings import best_condition

    # 30/50 = 60.0% vs 25/50 = 50.0%: a strict winner, named with the runner-up
    acc = pd.DataFrame({"condition": ["correct", "incorrect", "vanilla"], "rate": [0.5, 0.6, 0.5]})
    text = best_condition(acc)
    assert text.startswith("Highest accuracy: **SFT incorrect traces**") and "60.0%" in text
    assert "runner-up" in text and "50.0%" in text
    tie = best_condition(acc.assign(rate=[0.6, 0.6, 0.5]))
    assert tie.startswith("No single best condition") and "Highest" not in tie


def test_consistency_table_share_ignoring_the_trace():
    items = _items()
    items["consistent"] = [
        None if c == "incorrect" and i % 2 else i % 4 != 0 for i, c in enumerate(items["condition"])
    ]
    t = disconnect.consistency_table(items, n_boot=200).set_index("condition")
    # correct rows are even positions 0,2,...: i % 4 != 0 alternates -> 10 of 20
    assert t.loc["correct", "consistent"] == pytest.approx(0.5)
    assert t.loc["correct", "ignores_trace"] == pytest.approx(0.5)
    assert "incorrect" not in t.index  # all its rows are unevaluated (None)


def test_corruption_relevance_table(tmp_path):
    from tracekd_core.records import Problem, write_problems

    probs = [
        Problem(
            id=f"c{i}",
            dataset="cotemp",
            split="train",
            label="equal",
            support=[2],
            question=f"While Ann{i} worked for Acme, which school did Ann{i} attend?",
            context=[
                f"Ann{i} works for Acme from 2001 to 2003.",
                "Zed plays for Reds in 1990.",
                f"Ann{i} attended Uni from 2001 to 2003.",
            ],
            answers=["Uni"],
            meta={"triple_element": "S1_R2_O2", "anchor": 0},
        )
        for i in range(3)
    ]
    path = tmp_path / "p.jsonl"
    write_problems(path, probs)
    t = report.corruption_relevance_table(pd.DataFrame({"problems": [str(path)]}))
    t = t.set_index("corruption")
    # the only non-anchor distractor is Zed's fact: no question word, in the context
    assert t.loc["retrieval", "shares_question_word"] == 0.0
    assert t.loc["retrieval", "states_anchor"] == 0.0
    assert t.loc["retrieval", "absent_from_context"] == 0.0
    assert t.loc["swap", "absent_from_context"] == 1.0  # another problem's facts
