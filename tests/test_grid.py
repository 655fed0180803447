"""The grid runner's locks and consistency checks (grid.py; issue 10)."""

from __future__ import annotations

import json

import pytest

from tracekd_core import runio
from tracekd_core.config import load_profile
from tracekd_core.errors import InconsistentRunError, RunLockedError
from tracekd_core.experiment import grid


def test_second_run_of_a_profile_fails_fast_while_the_first_holds_the_lock(tmp_path):
    profile = load_profile("smoke")
    runs = tmp_path / profile.runs_root / profile.name
    with runio.locked(runs), pytest.raises(RunLockedError, match="profile grid 'smoke'"):
        grid.run_grid(profile, tmp_path)
    assert not (runs / "profile.json").exists()  # refused before touching anything


def test_done_folder_with_duplicate_or_missing_predictions_names_the_folder(tmp_path):
    d = tmp_path / "generate" / "cell-abc"
    d.mkdir(parents=True)
    runio.mark_done(d)
    preds = d / "predictions.jsonl"
    with pytest.raises(InconsistentRunError, match=f"Delete the folder {d}"):
        grid.check_done_predictions(d, preds)
    rec = json.dumps({"id": "a", "output": "x"}) + "\n"
    preds.write_text(rec + rec)
    with pytest.raises(InconsistentRunError, match="Delete the folder"):
        grid.check_done_predictions(d, preds)
    preds.write_text(rec)
    grid.check_done_predictions(d, preds)  # consistent: no error


def test_empty_test_split_is_never_marked_done(render_dir, tmp_path):
    """Issue 10.3: an empty test set used to leave a DONE folder without predictions."""
    from dataclasses import replace

    from tracekd_core.errors import EmptyInputError
    from tracekd_core.records import read_problems, write_problems

    train_only = [replace(p, split="train") for p in read_problems(render_dir / "problems.jsonl")]
    problems = tmp_path / "problems.jsonl"
    write_problems(problems, train_only)
    with pytest.raises(EmptyInputError, match="test split is empty"):
        grid.generate_and_score(load_profile("smoke"), tmp_path, "tiny-random", problems, None, "c")
    assert not list(tmp_path.rglob("DONE"))


def test_generate_refuses_an_empty_problem_list(tmp_path):
    from tracekd_core.config import GenerateConfig
    from tracekd_core.errors import EmptyInputError
    from tracekd_core.students.generate import generate

    with pytest.raises(EmptyInputError, match="no problem to answer"):
        generate("tiny-random", [], tmp_path / "p.jsonl", cfg=GenerateConfig())


def test_data_cache_key_follows_the_native_files(tmp_path):
    """Issue 10.4: an edited native bAbI file used to reuse the stale cached problems."""
    import shutil
    from pathlib import Path

    from tracekd_core.config import DataConfig
    from tracekd_core.records import read_problems

    src = tmp_path / "babi"
    shutil.copytree(Path(__file__).parent / "fixtures" / "datasets" / "babi", src)
    dc = DataConfig(dataset="babi", source=str(src))
    first = grid.build_problems(tmp_path, dc, 0)
    assert not any("corridor" in " ".join(p.context) for p in read_problems(first))
    for f in src.iterdir():
        f.write_text(f.read_text().replace("hallway", "corridor"))
    second = grid.build_problems(tmp_path, dc, 0)
    assert second != first
    assert any("corridor" in " ".join(p.context) for p in read_problems(second))
    assert grid.build_problems(tmp_path, dc, 0) == second  # unchanged files: same cache entry


# ---------------------------------------------------------------- fast unit tests (no model)


def test_plan_has_one_cell_per_seed_for_trained_conditions_and_one_for_direct():
    profile = load_profile("smoke").model_copy(update={"seeds": [0, 1]})
    plan = grid.plan_cells(profile)
    per_ds = [(c, s) for dc, _, c, s in plan if dc.dataset == "cotemp"]
    assert per_ds.count(("direct", None)) == 1
    assert [s for c, s in per_ds if c == "correct"] == [0, 1]
    trained = len(profile.conditions) - 1  # every smoke condition but direct trains
    assert len(plan) == len(profile.datasets) * (1 + 2 * trained)


def test_data_folder_is_keyed_on_config_seed_and_data_code(tmp_path, monkeypatch):
    dc = load_profile("smoke").datasets[0]
    d = grid.data_dir(tmp_path, dc, 0)
    assert d.parent == tmp_path / "data" / "derived" and d.name.startswith("cotemp-")
    assert grid.data_dir(tmp_path, dc, 0) == d
    assert grid.data_dir(tmp_path, dc, 1) != d
    assert grid.data_dir(tmp_path, dc.model_copy(update={"n_test": 9}), 0) != d
    real = runio.stage_fingerprint
    monkeypatch.setattr(
        runio, "stage_fingerprint", lambda s: real(s) + ("x" if s == "data" else "")
    )
    assert grid.data_dir(tmp_path, dc, 0) != d  # data code edited -> new folder


def test_problems_and_sft_are_built_once(tmp_path, monkeypatch):
    dc = load_profile("smoke").datasets[1].model_copy(update={"n_train": 4, "n_test": 2})
    path = grid.build_problems(tmp_path, dc, 0)
    sft = grid.build_sft(path, "correct", None, "reference", 0)
    assert sft.parent == path.parent and sft.name.startswith("sft-correct-")
    assert len(sft.read_text().splitlines()) == 4  # the train split only
    bad = grid.build_sft(path, "incorrect", "label", "reference", 0)
    assert bad.name.startswith("sft-incorrect-label-") and bad != sft

    def boom(*a, **k):
        raise AssertionError("a built file must be reused")

    monkeypatch.setattr(grid, "make_problems", boom)
    monkeypatch.setattr(grid, "build_sft_examples", boom)
    assert grid.build_problems(tmp_path, dc, 0) == path
    assert grid.build_sft(path, "correct", None, "reference", 0) == sft


def test_compute_seconds_keeps_the_run_that_did_the_work(tmp_path):
    index = tmp_path / "grid.json"
    assert grid._compute_seconds(index, 300.0) == 300.0
    index.write_text(json.dumps({"compute_seconds": 300.0}))
    assert grid._compute_seconds(index, 5.0) == 300.0  # a fast re-run only skipped
    assert grid._compute_seconds(index, 120.0) == 420.0  # a re-run that trained adds its time
