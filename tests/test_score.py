"""Scorer tests on a hand-built fixture (tests/fixtures/parse/problems.jsonl + predictions.jsonl).

Expected values are derived by hand in the comments from the fixture's texts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tracekd_core.cli import main
from tracekd_core.errors import RecordError, UnknownNameError
from tracekd_core.evaluation.reference import answer_span, cotemp_answer, fact_entity
from tracekd_core.evaluation.score import read_predictions, score_items, score_run, summarize
from tracekd_core.evaluation.strict import cotemp_entities, rouge_l, token_prf
from tracekd_core.records import Problem, read_problems
from tracekd_core.registry import ANSWER_SCORERS, TRACE_SCORERS
from tracekd_core.text import normalize_text

FIX = Path(__file__).parent / "fixtures" / "parse"
PROBLEMS = FIX / "problems.jsonl"
PREDICTIONS = FIX / "predictions.jsonl"


@pytest.fixture(scope="module")
def items():
    scored = score_items(read_problems(PROBLEMS), read_predictions(PREDICTIONS))
    return {it["id"]: it for it in scored}


def test_registries_hold_both_modes():
    assert ANSWER_SCORERS.names() == ["reference", "strict"]
    assert TRACE_SCORERS.names() == ["reference", "strict"]
    with pytest.raises(UnknownNameError):
        score_items(read_problems(PROBLEMS), {}, answer_scoring="lenient")


# Per item (strict answer / reference answer; strict trace steps / reference trace steps):
# c1 answers ['judge of Ohio', 'pilot']: strict sees the extra position -> wrong (P 1/2, R 1);
#    the reference uses the subject slot, so 'pilot' is no candidate -> right. Trace fully right.
# c2 (S2_R1_O1, asks for a person) answers ['Bob Stone'] -> right in both; its trace states the
#    wrong label (during vs overlap) and a real but irrelevant fact: strict IR wrong (P 0, R 0),
#    reference IR right (any verbatim context fact counts).
# c3 (mix) answers only 'Globex' of {Globex, Initech}: wrong, P 1, R 1/2; states 1 of 2 facts.
# c4 has no prediction: missing. b1 vanilla 'bathroom': right, no trace.
# b2 is cut inside the trace: truncated, no answer; label right, 1 of the 2 stated items is a
#    gold fact (P 1/2, R 1/3). m1: 'off the coast of Queensland' vs the gold with ', Australia'.
EXPECTED = {
    "c1": ("ok", False, True, (True, True, True), (True, True, True)),
    "c2": ("ok", True, True, (False, False, False), (False, True, False)),
    "c3": ("ok", False, False, (True, False, False), (True, True, True)),
    "c4": ("missing", False, False, (None, None, None), (None, None, None)),
    "b1": ("no_trace", True, True, (None, None, None), (None, None, None)),
    "b2": ("truncated", False, False, (True, False, False), (True, True, True)),
    "m1": ("ok", False, False, (True, True, True), (True, True, True)),
}


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_items_by_hand(items, pid):
    status, a_strict, a_ref, t_strict, t_ref = EXPECTED[pid]
    it = items[pid]
    assert it["status"] == status
    assert it["answer_correct"] is a_strict
    assert it["answer_correct_strict"] is a_strict
    assert it["answer_correct_reference"] is a_ref
    steps = ("label", "retrieval", "trace")
    assert tuple(it[f"{s}_correct"] for s in steps) == t_strict
    assert tuple(it[f"{s}_correct_strict"] for s in steps) == t_strict
    assert tuple(it[f"{s}_correct_reference"] for s in steps) == t_ref


def test_item_fractions_by_hand(items):
    assert items["c1"]["answer_precision"] == 0.5 and items["c1"]["answer_recall"] == 1.0
    assert items["c3"]["answer_f1"] == pytest.approx(2 / 3)  # P 1, R 1/2
    assert items["c3"]["retrieval_precision"] == 1.0 and items["c3"]["retrieval_recall"] == 0.5
    assert items["c2"]["retrieval_precision"] == 0.0
    assert items["b2"]["retrieval_precision"] == 0.5
    assert items["b2"]["retrieval_recall"] == pytest.approx(1 / 3)
    # m1: "off coast of queensland" vs "off coast of queensland australia" (articles dropped)
    assert items["m1"]["token_f1"] == pytest.approx(2 * 1 * 0.8 / 1.8)
    assert items["m1"]["rouge_l"] == pytest.approx(2 * 1 * 0.8 / 1.8)
    assert items["m1"]["answer_f1"] == pytest.approx(2 * 1 * 0.8 / 1.8)  # MARCO F1 = token F1
    assert items["c4"]["retrieval_precision"] is None
    assert items["b2"]["hit_max_new_tokens"] is True and items["b2"]["n_new_tokens"] == 40
    assert items["c1"]["stated_label"] == "equal" and items["c2"]["stated_label"] == "during"


def test_summary_by_hand(items):
    s = summarize(list(items.values()))
    assert s["n"] == 7 and s["n_missing"] == 1
    assert s["answer_correct"] == 2 and s["answer_accuracy"] == pytest.approx(2 / 7)
    assert s["answer_accuracy_by_mode"] == {
        "reference": pytest.approx(3 / 7),
        "strict": pytest.approx(2 / 7),
    }
    assert s["status_counts"] == {"missing": 1, "no_trace": 1, "ok": 4, "truncated": 1}
    # label: c1 ft, c2 tf, c3 ft, b2 ft, m1 ft; retrieval/trace: c1 ft, c2 tf, c3 ff, b2 ff, m1 ft
    assert s["confusion"]["label"] == {"tt": 0, "tf": 1, "ft": 4, "ff": 0, "unevaluated": 2}
    assert s["confusion"]["trace"] == {"tt": 0, "tf": 1, "ft": 2, "ff": 2, "unevaluated": 2}
    assert s["confusion"]["retrieval"] == s["confusion"]["trace"]
    assert s["label_accuracy"] == 0.8 and s["trace_accuracy"] == 0.4 and s["trace_n"] == 5
    assert s["by_label"]["overlap"]["answer_accuracy"] == 1.0
    assert s["by_label"]["mix"]["n"] == 1
    lo, hi = s["answer_accuracy_ci"]
    assert lo < 2 / 7 < hi
    assert s["both_correct_share"]["k"] == 0 and s["both_correct_share"]["n"] == 7
    ch = s["chi2"]["trace"]
    assert set(ch) >= {"statistic", "p_value", "phi", "yates", "odds_ratio"}
    json.dumps(s, allow_nan=False)  # strict JSON: NaN became null


def test_summary_in_reference_modes(items):
    s = summarize(list(items.values()), answer_scoring="reference", trace_scoring="reference")
    assert s["answer_correct"] == 3
    # trace: c1 tt, c2 tf, c3 ft, b2 ft, m1 ft
    assert s["confusion"]["trace"] == {"tt": 1, "tf": 1, "ft": 3, "ff": 0, "unevaluated": 2}


def test_score_run_writes_files(tmp_path):
    s = score_run(PROBLEMS, PREDICTIONS, tmp_path / "out", answer_scoring="reference")
    rows = [json.loads(x) for x in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    assert len(rows) == 7 and rows[0]["id"] == "c1"
    need = {
        "id",
        "label",
        "status",
        "answer_correct",
        "label_correct",
        "retrieval_precision",
        "retrieval_recall",
        "retrieval_correct",
        "trace_correct",
        "dataset",
    }
    assert need <= set(rows[0])
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["answer_accuracy"] == pytest.approx(3 / 7) == s["answer_accuracy"]
    assert on_disk["inputs"]["predictions_sha256"]


def test_strict_cotemp_entity_roles():
    p = read_problems(PROBLEMS)[1]  # c2 asks for a person (S2_R1_O1)
    assert cotemp_entities(["Bob Stone is a member of the Green Party."], p) == {"bob stone"}
    assert cotemp_entities(["Bob Stone", "Cy Young"], p) == {"bob stone", "cy young"}
    assert cotemp_entities(["nobody"], p) == {"nobody"}
    # a sentence restating the question's person does not count that person as an answer
    assert cotemp_entities(["While Ann Lee was there, Bob Stone was too"], p) == {"bob stone"}


def test_reference_quirks():
    p = read_problems(PROBLEMS)[0]  # c1, S1_R1_O2
    # no answer tag: the span after " answer " is scored, "think" is deleted inside words
    assert answer_span("I think the answer is x") == "is x"
    assert answer_span("<answer>thinking</answer>") == "ing"
    # the question entity is removed once; extra non-candidate text is ignored
    assert cotemp_answer("<answer>mayor of springfield, judge of ohio</answer>", p)["correct"]
    assert not cotemp_answer("<answer>mayor of springfield</answer>", p)["correct"]
    assert fact_entity("Ann Lee held the position of pilot in 1990.", "object") == "pilot"


def test_metric_helpers():
    assert normalize_text("The Sevilla F.C.!") == "sevilla fc"
    assert token_prf("", "") == (1.0, 1.0, 1.0)
    assert token_prf("a b", "c") == (0.0, 0.0, 0.0)
    assert rouge_l("x y z", "x z") == pytest.approx(0.8)


def test_rouge_matches_rouge_score_package():
    rs = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rs.RougeScorer(["rougeL"], use_stemmer=False)
    for pred, gold in [
        ("blue whale swims far", "whale swims"),
        ("one two three", "three two one"),
        ("x y z w", "y w q"),
    ]:
        assert rouge_l(pred, gold) == pytest.approx(scorer.score(gold, pred)["rougeL"].fmeasure)


def test_bad_predictions_are_named_errors(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "c1", "output": 3}\n')
    with pytest.raises(RecordError, match="line 1.*'output'"):
        read_predictions(f)
    f.write_text('{"id": "c1", "output": "a"}\n{"id": "c1", "output": "b"}\n')
    with pytest.raises(RecordError, match="line 2"):
        read_predictions(f)
    with pytest.raises(RecordError):
        score_items(read_problems(PROBLEMS), [{"output": "x"}])


@pytest.mark.parametrize(
    "meta",
    [
        '"n_new_tokens": "12"',
        '"n_new_tokens": true',
        '"hit_max_new_tokens": "no"',
        '"stop_reason": 3',
    ],
)
def test_wrong_typed_prediction_metadata_is_a_named_error(tmp_path, meta):
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "c1", "output": "a", ' + meta + "}\n")
    field = meta.split(":")[0].strip('"')
    with pytest.raises(RecordError, match=f"line 1.*'{field}'"):
        read_predictions(f)
    f.write_text('{"id": "c1", "output": "a", "n_new_tokens": 4, "hit_max_new_tokens": false}\n')
    assert read_predictions(f)["c1"]["n_new_tokens"] == 4


def test_extra_predictions_are_ignored():
    probs = read_problems(PROBLEMS)[:1]
    preds = [{"id": "zzz", "output": "x"}, {"id": "c1", "output": "judge of Ohio"}]
    out = score_items(probs, preds)
    assert len(out) == 1 and out[0]["answer_correct"] and out[0]["status"] == "no_trace"


def test_cli_score_compare_bench(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        main(
            [
                "score",
                "--problems",
                str(PROBLEMS),
                "--predictions",
                str(PREDICTIONS),
                "--out",
                str(a),
            ]
        )
        == 0
    )
    # B: every prediction replaced by the gold answer in the reference format -> all right
    probs = read_problems(PROBLEMS)
    preds = tmp_path / "gold.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": p.id, "output": _gold_output(p)}) + "\n" for p in probs)
    )
    assert (
        main(
            [
                "score",
                "--problems",
                str(PROBLEMS),
                "--predictions",
                str(preds),
                "--out",
                str(b),
                "--answer-scoring",
                "reference",
            ]
        )
        == 0
    )
    sb = json.loads((b / "summary.json").read_text())
    assert sb["answer_accuracy"] == 1.0 and sb["answer_accuracy_by_mode"]["strict"] == 1.0
    assert sb["trace_accuracy"] == 1.0
    out_json = tmp_path / "cmp.json"
    assert main(["compare", str(a), str(b), "--n-boot", "200", "--json", str(out_json)]) == 0
    rows = {r["metric"]: r for r in json.loads(out_json.read_text())["rows"]}
    r = rows["answer_correct_strict"]
    assert (r["n"], r["a_only"], r["b_only"]) == (7, 0, 5)  # 2/7 right in A, 7/7 in B
    assert r["diff"] == pytest.approx(5 / 7) and r["mcnemar_p"] == pytest.approx(2 * 0.5**5)
    bench_out = tmp_path / "bench.json"
    assert main(["bench", "score", "--n", "300", "--out", str(bench_out)]) == 0
    res = json.loads(bench_out.read_text())
    assert res["n"] == 300 and res["items_per_second"] > 0
    assert "items/s" in capsys.readouterr().out


def test_cli_reports_missing_folder(tmp_path):
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2


def _gold_output(p: Problem) -> str:
    """The correct-trace target of ARCHITECTURE.md "Trace format", written out by hand."""
    head = (
        "The temporal relation between the event in question and the event in context is: "
        if p.dataset == "cotemp"
        else "The category of the question represents what is being asked in that question. "
        "The category of the question asked is: "
    )
    kind = "facts" if p.dataset == "cotemp" else "text"
    ans = repr(list(p.answers)) if p.dataset == "cotemp" else p.answers[0]
    return (
        f"<think>{head}{p.label}.\nI need to use the following {kind} to answer the "
        f"question: {p.support_text!r}</think> <answer>{ans}</answer>"
    )


def test_nan_free_summary_on_degenerate_data():
    s = summarize(
        [
            {
                "id": "x",
                "label": "equal",
                "status": "no_trace",
                "answer_correct": True,
                "label_correct": None,
                "retrieval_correct": None,
                "trace_correct": None,
            }
        ]
    )
    assert s["chi2"]["trace"]["statistic"] is None
    assert s["trace_accuracy"] is None and s["trace_n"] == 0
    assert not any(isinstance(v, float) and math.isnan(v) for v in s.values())


def test_answer_cut_by_the_token_budget_is_truncated():
    prob = read_problems(PROBLEMS)[1]  # c2, gold ['Bob Stone']
    text = "<think>x</think> <answer>['Bob Stone'"
    cut = score_items([prob], [{"id": "c2", "output": text, "hit_max_new_tokens": True}])[0]
    assert cut["status"] == "truncated" and not cut["answer_correct_strict"]
    eos = score_items([prob], [{"id": "c2", "output": text, "hit_max_new_tokens": False}])[0]
    assert eos["status"] == "malformed" and eos["answer_correct_strict"]


def test_untagged_text_cut_by_the_budget_is_truncated():
    prob = read_problems(PROBLEMS)[1]  # c2, gold ['Bob Stone']
    text = "<think>x is: during.</think>\nThe facts: Bob Stone works for"
    cut = score_items([prob], [{"id": "c2", "output": text, "hit_max_new_tokens": True}])[0]
    assert cut["status"] == "truncated" and not cut["answer_correct_strict"]
    closed = "<think>x</think> <answer>['Bob Stone']</answer>"
    ok = score_items([prob], [{"id": "c2", "output": closed, "hit_max_new_tokens": True}])[0]
    assert ok["status"] == "ok" and ok["answer_correct_strict"]


def test_untagged_answer_sensitivity_row():
    prob = read_problems(PROBLEMS)[1]  # c2, gold ['Bob Stone']
    untagged = "<think>x is: during.</think>\nI need Bob Stone works for X.\nAnswer: ['Bob Stone']"
    items = score_items([prob], [{"id": "c2", "output": untagged}])
    assert items[0]["status"] == "untagged_answer" and items[0]["answer_correct_strict"]
    s = summarize(items)["untagged_answer"]
    assert (s["n"], s["n_correct"], s["accuracy"], s["accuracy_untagged_wrong"]) == (1, 1, 1.0, 0.0)
    assert s["ids"] == ["c2"]


def test_retrieval_split_anchor_and_answer_facts():
    from tracekd_core.datasets.cotemp import anchor_index
    from tracekd_core.evaluation.parse import ParsedOutput
    from tracekd_core.evaluation.strict import split_retrieval
    from tracekd_core.records import Problem

    p = Problem(
        id="a",
        dataset="cotemp",
        split="test",
        label="equal",
        support=[2],
        question="While Ann worked for Acme, which school did Ann attend?",
        context=[
            "Bo works for Acme from 2001 to 2003.",
            "Ann works for Acme from 2001 to 2003.",
            "Ann attended Uni from 2001 to 2003.",
        ],
        answers=["Uni"],
        meta={"triple_element": "S1_R2_O2"},
    )
    assert anchor_index(p) == 1  # real data: found from the question, not Bo's fact
    only_answer = ParsedOutput("t", "equal", [p.context[2]], "Uni", ["Uni"], "ok")
    assert split_retrieval(p, only_answer) == {
        "anchor_correct": False,
        "answer_facts_correct": True,
    }
    wrong = ParsedOutput("t", "equal", [p.context[1], p.context[0]], "Uni", ["Uni"], "ok")
    assert split_retrieval(p, wrong) == {"anchor_correct": True, "answer_facts_correct": False}
    it = score_items([p], [{"id": "a", "output": "Uni"}])[0]  # no trace: unevaluated
    assert it["anchor_correct"] is None and it["answer_facts_correct"] is None
