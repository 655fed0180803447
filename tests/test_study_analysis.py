"""``study analyze``: means, CIs, Friedman/Wilcoxon + Holm, ordinal model, alpha, exclusions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import friedmanchisquare, wilcoxon
from statsmodels.stats.multitest import multipletests

from tracekd_core.cli import main
from tracekd_core.errors import EmptyInputError, StudyResponseError
from tracekd_core.study.analysis import (
    analyze,
    cronbach_alpha,
    participant_scores,
    reference_study,
)
from tracekd_core.study.responses import ratings_table, read_responses
from tracekd_core.study.survey import export_survey

INTERP = {"teacher_trace": 2, "teacher_summary": 3, "teacher_explanation": 4, "decomposed": 5}
LOAD = {"teacher_trace": 5, "teacher_summary": 4, "teacher_explanation": 3, "decomposed": 2}
OFFSET = {"P0": 0, "P1": 0, "P2": 0, "P3": -1, "P4": -1}


def _value(pid):
    def value(stim, item):
        if item.construct == "interpretability":
            return INTERP[stim["type"]] + OFFSET[pid]
        return LOAD[stim["type"]]

    return value


@pytest.fixture()
def panel(study_stimuli, make_study_response):
    good = [make_study_response(study_stimuli, p, _value(p)) for p in OFFSET]
    cheat = make_study_response(study_stimuli, "BAD", lambda s, i: 1, attention_ok=False)
    return good + [cheat]


def test_means_are_the_hand_computed_ones(panel):
    t = analyze(panel, n_boot=500, seed=0)
    m = t["means"].set_index(["construct", "type"])
    # interpretability: three participants at the base value, two one point lower
    assert m.loc[("interpretability", "decomposed"), "mean"] == pytest.approx(4.6)
    assert m.loc[("interpretability", "teacher_trace"), "mean"] == pytest.approx(1.6)
    assert m.loc[("interpretability", "teacher_summary"), "mean"] == pytest.approx(2.6)
    assert m.loc[("cognitive_load", "teacher_trace"), "mean"] == pytest.approx(5.0)
    assert (m["n_participants"] == 5).all()  # the attention-check failure is excluded
    lo, hi = m.loc[("interpretability", "decomposed"), ["ci_low", "ci_high"]]
    assert 4.0 <= lo <= 4.6 <= hi <= 5.0
    # no spread across participants: the interval is the point
    assert m.loc[("cognitive_load", "decomposed"), ["ci_low", "ci_high"]].tolist() == [2.0, 2.0]
    ex = t["exclusions"].iloc[0]
    assert (ex["responses"], ex["failed_attention"], ex["kept"]) == (6, 1, 5)


def test_tests_match_scipy_and_holm(panel):
    t = analyze(panel, n_boot=200, seed=0)
    kept = [r for r in panel if r["participant"] != "BAD"]
    scores = participant_scores(ratings_table(kept))
    w = scores[scores["construct"] == "interpretability"].pivot(
        index="participant", columns="type", values="value"
    )
    order = ["teacher_trace", "teacher_summary", "teacher_explanation", "decomposed"]
    fr = t["friedman"].set_index("construct").loc["interpretability"]
    ref = friedmanchisquare(*(w[c] for c in order))
    assert fr["chi2"] == pytest.approx(ref.statistic) and fr["p_value"] == pytest.approx(ref.pvalue)
    assert fr["chi2"] == pytest.approx(15.0)  # perfect concordance: n (k - 1) = 5 * 3
    wx = t["wilcoxon"][t["wilcoxon"]["construct"] == "interpretability"]
    assert len(wx) == 6
    ps = [wilcoxon(w[a], w[b]).pvalue for a, b in zip(wx["a"], wx["b"], strict=True)]
    assert wx["p_value"].tolist() == pytest.approx(ps)
    assert wx["p_holm"].tolist() == pytest.approx(multipletests(ps, method="holm")[1])
    row = wx[(wx["a"] == "teacher_trace") & (wx["b"] == "decomposed")].iloc[0]
    assert row["mean_diff"] == pytest.approx(-3.0)


def test_alpha_on_known_examples(panel):
    # items identical within a construct: alpha is exactly 1
    t = analyze(panel, n_boot=100)
    assert t["alpha"].set_index("construct")["alpha"].tolist() == pytest.approx([1.0, 1.0])
    # hand computation: item variances 1.667 + 1.333 = 3, total variance 17/3
    x = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 4, 4]})
    assert cronbach_alpha(x) == pytest.approx(2 * (1 - 3 / (17 / 3)))
    # uncorrelated items: alpha near 0 (here below 0.3)
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.integers(1, 6, size=(200, 3)))
    assert cronbach_alpha(noise) < 0.3
    assert np.isnan(cronbach_alpha(x[["a"]]))


def test_ordinal_model_finds_the_type_effect(study_stimuli, make_study_response):
    rng = np.random.default_rng(1)
    panel = []
    for k in range(24):

        def value(stim, item, k=k):
            base = INTERP[stim["type"]] if item.construct == "interpretability" else 3
            return int(np.clip(round(base - 1 + rng.normal(0, 1.0)), 1, 5))

        panel.append(make_study_response(study_stimuli, f"R{k}", value))
    t = analyze(panel, n_boot=100)
    o = t["ordinal"]
    row = o[(o["construct"] == "interpretability") & (o["term"] == "teacher_trace vs decomposed")]
    assert row.iloc[0]["status"] == "ok"
    assert row.iloc[0]["odds_ratio"] < 0.2 and row.iloc[0]["p_value"] < 0.001
    assert row.iloc[0]["n_participants"] == 24
    load = o[o["construct"] == "cognitive_load"]
    assert (load["p_value"] > 0.001).all()  # no effect was put in


def test_paper_numbers_beside_ours(panel):
    ref = reference_study()
    assert len(ref) == 3 and set(ref["trace_type"]) == {"teacher_trace", "decomposed"}
    v = analyze(panel, n_boot=100)["versus_paper"].set_index(["construct", "type"])
    got = v.loc[("interpretability", "teacher_trace")]
    want = ref[(ref.trace_type == "teacher_trace") & (ref.construct == "interpretability")]
    assert got["paper_mean"] == want["mean"].iloc[0]
    assert got["our_mean"] == pytest.approx(1.6)
    assert np.isnan(v.loc[("cognitive_load", "decomposed"), "paper_mean"])


def test_single_participant_gives_nan_tests_not_a_crash(panel):
    t = analyze(panel[:1], n_boot=100)
    assert t["friedman"]["p_value"].isna().all()
    assert t["ordinal"]["status"].str.contains("fewer than 2").all()
    assert t["means"]["ci_low"].isna().all()


def test_bad_response_files_are_named(study_stimuli, panel, tmp_path):
    d = tmp_path / "responses"
    d.mkdir()
    with pytest.raises(EmptyInputError, match="study serve"):
        read_responses(d)
    bad = dict(panel[0], ratings=[{**panel[0]["ratings"][0], "value": "4"}])
    (d / "a.jsonl").write_text(json.dumps(panel[1]) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(StudyResponseError) as e:
        read_responses(d)
    msg = str(e.value)
    assert "a.jsonl, line 2" in msg and "ratings[0].value" in msg and "'4'" in msg
    assert "1, 2, 3, 4 or 5" in msg
    (d / "a.jsonl").write_text(json.dumps(panel[1]) + "\n")
    (d / "b.jsonl").write_text(json.dumps(panel[1]) + "\n")
    with pytest.raises(StudyResponseError, match="Already answered in .*a.jsonl:1"):
        read_responses(d)
    (d / "b.jsonl").write_text(json.dumps(panel[2]) + "\n")
    other = dict(study_stimuli, survey_id="other")
    with pytest.raises(StudyResponseError, match="another survey"):
        read_responses(d, other)


def test_cli_analyze_writes_tables(study_stimuli, panel, tmp_path, capsys):
    export_survey(study_stimuli, tmp_path / "study")
    for r in panel:
        (tmp_path / "study" / "responses" / f"{r['participant']}.jsonl").write_text(
            json.dumps(r) + "\n"
        )
    out = tmp_path / "out"
    rc = main(
        [
            "study",
            "analyze",
            str(tmp_path / "study" / "responses"),
            "--out",
            str(out),
            "--n-boot",
            "100",
        ]
    )
    assert rc == 0
    names = {p.stem for p in out.glob("*.csv")}
    assert {"means", "friedman", "wilcoxon", "ordinal", "alpha", "exclusions"} <= names
    assert "6 responses, 1 excluded" in capsys.readouterr().out
    means = pd.read_csv(out / "means.csv")
    assert len(means) == 8


def test_book_chapter_reads_responses_when_present(study_stimuli, panel, tmp_path):
    from tracekd_core.study import book as study_book

    tables, text = study_book.profile_responses(tmp_path, study_stimuli, 0)
    assert tables is None and "No human responses yet" in text
    export_survey(study_stimuli, tmp_path)
    for r in panel:
        (tmp_path / "responses" / f"{r['participant']}.jsonl").write_text(json.dumps(r) + "\n")
    tables, text = study_book.profile_responses(tmp_path, study_stimuli, 0)
    assert text == "6 responses, 1 excluded by the attention checks, 5 analysed."
    assert (tmp_path / "analysis" / "means.csv").exists()
    md = study_book.design_markdown(study_stimuli, 0, "study")
    assert "all 12 stimuli (3 problems x 4 trace types)" in md
