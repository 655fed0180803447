"""The grid's teacher stage on the smoke profile: subset, seven conditions, one test subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_teacher import _Handler, server  # noqa: F401 (loopback server fixture)
from tracekd_core.config import ProfileConfig, dump, load_profile, validate_config
from tracekd_core.experiment.grid import build_problems
from tracekd_core.experiment.teacher_stage import run_teacher_dataset
from tracekd_core.records import iter_jsonl, read_problems, write_jsonl
from tracekd_core.report import teacher as teacher_report
from tracekd_core.traces.teacher_kinds import teacher_text

REPO = Path(__file__).resolve().parents[1]


def _profile(teacher: dict) -> ProfileConfig:
    base = dump(load_profile("smoke", REPO / "configs"))
    return validate_config(ProfileConfig, {**base, "teacher": {**base["teacher"], **teacher}})


def _rows_file(problems, path: Path, solved: set[str]) -> Path:
    rows = [
        {
            "id": p.id,
            "trace": f"Reasoning of {p.id}: the facts say {p.answers[0]}.",
            "answer": repr(p.answers) if p.id in solved else "['nobody']",
            "correct": p.id in solved,  # re-scored by the stage with our scorer
            "summary": f"Summary of {p.id}.",
            "explanation": f"Explanation of {p.id}.",
        }
        for p in problems
    ]
    write_jsonl(path, reversed(rows))  # file order must not matter: rows are matched by id
    return path


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher_root")
    profile = _profile({})
    dc = next(d for d in profile.datasets if d.dataset == "cotemp")
    problems_path = build_problems(root, dc, profile.data_seed)
    problems = read_problems(problems_path)
    train = [p for p in problems if p.split == "train"][:8]
    test = [p for p in problems if p.split == "test"][:8]
    solved = {p.id for p in train[:5]} | {p.id for p in test[::2]}
    rows = _rows_file(train + test, root / "rows.jsonl", solved)
    profile = _profile({"backend": "file", "traces_file": str(rows)})
    runs = root / profile.runs_root / profile.name
    out = run_teacher_dataset(profile, root, runs, "cotemp", problems_path)
    return profile, root, runs, problems_path, out, solved, train, test


def test_every_condition_trains_on_the_solved_ids_and_is_scored_on_one_subset(stage):
    profile, _, _, _, out, solved, train, test = stage
    assert out["status"] == "ok", out["message"]
    assert out["n_train_subset"] == 5 and out["n_test_subset"] == 4
    cells = out["cells"]
    assert sorted(c["condition"] for c in cells) == sorted(profile.teacher.conditions)
    train_ids = {p.id for p in train} & solved
    test_ids = {p.id for p in test} & solved
    for c in cells:
        assert {r["id"] for _, r in iter_jsonl(c["sft"])} == train_ids, c["condition"]
        assert {i["id"] for _, i in iter_jsonl(Path(c["score_dir"]) / "items.jsonl")} == test_ids
    assert len({c["problems"] for c in cells}) == 1
    by_kind = {c["condition"]: c for c in cells}
    for _, rec in iter_jsonl(by_kind["teacher_explanation"]["sft"]):
        assert f"Explanation of {rec['id']}." in rec["messages"][2]["content"]


def test_rerun_is_cached_and_report_tables_have_every_condition(stage):
    profile, root, runs, problems_path, out, *_ = stage
    assert run_teacher_dataset(profile, root, runs, "cotemp", problems_path) == out
    index = {"teacher": {"enabled": True, "datasets": [out]}}
    cells = teacher_report.teacher_cells(index)
    gen = teacher_report.generation_items(cells)
    acc = teacher_report.accuracy_table(gen, n_boot=200)
    assert set(acc["condition"]) == set(profile.teacher.conditions)
    assert (acc["n"] == 4).all() and (acc["n_problems"] == 4).all()
    lengths = teacher_report.generation_lengths(gen)
    assert lengths["truncation_rate"].between(0, 1).all()
    train_len = teacher_report.training_lengths(cells)
    t = train_len.set_index("condition")
    assert t.loc["teacher_trace", "trace_tokens_mean"] > 0
    assert t.loc["teacher_none", "trace_tokens_mean"] == 0
    bins = teacher_report.accuracy_by_length(gen)
    assert bins.groupby("condition", observed=True)["n"].sum().eq(4).all()


def test_empty_subset_is_a_status_with_a_message_not_a_crash(tmp_path):
    profile = _profile({})
    dc = next(d for d in profile.datasets if d.dataset == "cotemp")
    problems_path = build_problems(tmp_path, dc, profile.data_seed)
    rows = _rows_file(read_problems(problems_path), tmp_path / "rows.jsonl", solved=set())
    profile = _profile({"backend": "file", "traces_file": str(rows)})
    runs = tmp_path / "runs" / "smoke"
    out = run_teacher_dataset(profile, tmp_path, runs, "cotemp", problems_path)
    assert out["status"] == "empty" and out["cells"] == []
    assert "solved 0 of 8 train problems" in out["message"]
    summary = teacher_report.stage_summary({"teacher": {"enabled": True, "datasets": [out]}})
    assert summary.loc[0, "status"] == "empty"
    assert teacher_report.teacher_cells({"teacher": {"datasets": [out]}}).empty
    assert json.loads((Path(out["stage_dir"]) / "summary.json").read_text())["status"] == "empty"


def test_stage_with_the_http_backend_on_a_loopback_server(server, tmp_path):  # noqa: F811
    from tracekd_core.experiment.teacher_stage import prepare_stage

    profile = _profile({"n_problems": 4, "n_test": 4})
    dc = next(d for d in profile.datasets if d.dataset == "cotemp")
    problems_path = build_problems(tmp_path, dc, profile.data_seed)
    problems = read_problems(problems_path)
    train = [p for p in problems if p.split == "train"][:4]
    test = [p for p in problems if p.split == "test"][:4]
    gold = {p.question: repr(p.answers) for p in (train[:3] + test[:2])}
    _Handler.reply = staticmethod(lambda q: next((a for k, a in gold.items() if k in q), "x"))
    profile = _profile(
        {"backend": "http", "base_url": server, "api_key_env": None, "n_problems": 4, "n_test": 4}
    )
    d = prepare_stage(profile, tmp_path / "runs", "cotemp", problems_path)
    summary = json.loads((d / "summary.json").read_text())
    assert (summary["n_train_subset"], summary["n_test_subset"]) == (3, 2)
    # 4 + 4 answers, then a summary and an explanation per solved train problem
    assert len(_Handler.calls) == 4 + 4 + 2 * 3
    rows = {r["id"]: r for _, r in iter_jsonl(d / "train_rows.jsonl")}
    for _, rec in iter_jsonl(d / "sft-teacher_trace.jsonl"):
        assert teacher_text(rows[rec["id"]], "teacher_trace") in rec["messages"][2]["content"]
        assert rec["id"] in {p.id for p in train[:3]}
    assert prepare_stage(profile, tmp_path / "runs", "cotemp", problems_path) == d
    assert len(_Handler.calls) == 4 + 4 + 2 * 3  # finished stage: no call repeated


def test_a_control_that_cannot_be_built_on_the_subset_is_skipped_with_its_reason(tmp_path):
    from tracekd_core.experiment.teacher_stage import prepare_stage

    profile = _profile({})
    dc = next(d for d in profile.datasets if d.dataset == "cotemp")
    problems_path = build_problems(tmp_path, dc, profile.data_seed)
    problems = read_problems(problems_path)
    one = [p for p in problems if p.split == "train"][:1] + [
        p for p in problems if p.split == "test"
    ][:1]
    rows = _rows_file(problems, tmp_path / "rows.jsonl", solved={p.id for p in one})
    profile = _profile({"backend": "file", "traces_file": str(rows)})
    d = prepare_stage(profile, tmp_path / "runs", "cotemp", problems_path)
    summary = json.loads((d / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["n_train_subset"] == 1
    assert "teacher_swap" in summary["skipped"] and "two" in summary["skipped"]["teacher_swap"]
    assert set(summary["sft"]) == set(profile.teacher.conditions) - {"teacher_swap"}


def test_direct_prompting_is_restricted_to_the_common_subset(stage):
    out = stage[4]
    cells = teacher_report.teacher_cells({"teacher": {"datasets": [out]}})
    main = cells[cells["condition"] == "teacher_none"].assign(condition="direct", seed=None)
    t = teacher_report.direct_on_subset(main, cells)
    assert t["n"].tolist() == [4] and t["condition"].tolist() == ["direct"]
    assert teacher_report.direct_on_subset(main.assign(condition="vanilla"), cells).empty
