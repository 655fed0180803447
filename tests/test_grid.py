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
