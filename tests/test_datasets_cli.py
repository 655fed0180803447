"""``tracekd data make | data check`` and ``tracekd bench data``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tracekd_core.cli import main
from tracekd_core.records import read_problems

FIX = Path(__file__).parent / "fixtures" / "datasets"


def test_make_total_is_split_80_20(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert (
        main(
            [
                "data",
                "make",
                "--dataset",
                "babi",
                "--source",
                "synthetic",
                "--n",
                "55",
                "--seed",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    problems = read_problems(out)
    assert Counter(p.split for p in problems) == {"train": 44, "test": 11}
    assert "wrote 55 problems" in capsys.readouterr().out


def test_make_one_split_and_check(tmp_path, capsys):
    out = tmp_path / "test.jsonl"
    assert (
        main(
            [
                "data",
                "make",
                "--dataset",
                "marco",
                "--split",
                "test",
                "--n",
                "10",
                "--seed",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    problems = read_problems(out)
    assert len(problems) == 10 and {p.split for p in problems} == {"test"}
    capsys.readouterr()
    assert main(["data", "check", str(out)]) == 0
    text = capsys.readouterr().out
    assert "10 valid problems" in text and "PERSON" in text


def test_make_from_folder(tmp_path):
    out = tmp_path / "c.jsonl"
    assert (
        main(
            [
                "data",
                "make",
                "--dataset",
                "cotemp",
                "--source",
                str(FIX / "cotemp"),
                "--seed",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert len(read_problems(out)) == 8


def test_check_bad_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(
            {
                "id": "x",
                "dataset": "babi",
                "split": "train",
                "question": "q?",
                "context": ["a"],
                "answers": ["b"],
                "label": "counting",
                "support": [3],
            }
        )
        + "\n"
    )
    assert main(["data", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "support" in err


def test_bench_data_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "data", "--n", "50", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["dataset"] for r in rows] == ["cotemp", "babi", "marco"]
    assert all(r["n"] == 50 and r["problems_per_s"] > 0 for r in rows)
    assert "problems/s" in capsys.readouterr().out


def test_data_check_fails_on_an_empty_file(tmp_path, capsys):
    """Issue 10.8: ``data check`` used to pass an empty file."""
    from tracekd_core.cli import main

    empty = tmp_path / "problems.jsonl"
    empty.write_text("")
    assert main(["data", "check", str(empty)]) == 2
    assert "no problem in the file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--n", "0"], "--n 0"),
        (["--n", "1"], "--n 1"),
        (["--n-distractors", "-1"], "n_distractors"),
    ],
)
def test_bad_data_make_flags_are_named_errors(tmp_path, capsys, flags, needle):
    """Issue 10.7: these flags used to end in a pydantic/ValueError traceback."""
    from tracekd_core.cli import main

    argv = ["data", "make", "--dataset", "babi", "--seed", "0", "--out", str(tmp_path / "p.jsonl")]
    assert main(argv + flags) == 2
    assert needle in capsys.readouterr().err


def test_hub_source_offline_fails_fast(monkeypatch):
    """Issue 10.7: ``--source hub`` offline retried for ~50 s before a traceback."""
    import time

    from tracekd_core.config import DataConfig
    from tracekd_core.datasets import make_problems
    from tracekd_core.errors import ConfigError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        make_problems(DataConfig(dataset="babi", source="hub"), seed=0)
    assert time.perf_counter() - t0 < 5
