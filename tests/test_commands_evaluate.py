"""Argument checks of ``tracekd score`` (commands/evaluate.py; issue 10.8)."""

from __future__ import annotations

import json
from pathlib import Path

from tracekd_core.cli import main

FIX = Path(__file__).parent / "fixtures" / "parse"


def test_score_with_predictions_of_another_file_is_an_error(tmp_path, capsys):
    """Issue 10.8: no matching id used to report 0% and exit 0."""
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "not-a-problem", "output": "x"}) + "\n")
    argv = ["score", "--problems", str(FIX / "problems.jsonl"), "--predictions", str(other)]
    assert main(argv + ["--out", str(tmp_path / "s")]) == 2
    assert "none of its 1 ids is a problem id" in capsys.readouterr().err
    assert not (tmp_path / "s" / "summary.json").exists()


def test_compare_with_no_shared_ids_is_an_error(tmp_path, capsys):
    """Issue 10.8: no shared id used to report n=0, p=1 and exit 0."""
    for name, pid in (("a", "p1"), ("b", "p2")):
        d = tmp_path / name
        d.mkdir()
        item = {"id": pid, "answer_correct": True, "status": "ok"}
        (d / "items.jsonl").write_text(json.dumps(item) + "\n")
        (d / "summary.json").write_text("{}\n")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--n-boot", "10"]) == 2
    assert "share no problem id" in capsys.readouterr().err
