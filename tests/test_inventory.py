"""Sizing, machine and time tables of chapters 0 and 2 (inventory.py)."""

from __future__ import annotations

import json

import pandas as pd

from tracekd_core.report import inventory


def _items():
    rows = []
    for cond, seeds, acc, ok in [
        ("direct", [-1], [0.25], None),
        ("vanilla", [0, 1], [0.5, 0.25], None),
        ("correct", [0, 1], [0.5, 0.25], 1.0),
    ]:
        for seed, a in zip(seeds, acc, strict=True):
            for i in range(4):
                rows.append(
                    {
                        "id": f"p{i}",
                        "dataset": "babi",
                        "condition": cond,
                        "seed": seed,
                        "answer_correct": i < a * 4,
                        "status": "ok" if ok else "no_trace",
                    }
                )
    return pd.DataFrame(rows)


def test_study_bars_compares_seed_means_with_direct():
    bars = inventory.study_bars(_items()).set_index("condition")
    assert bars.loc["vanilla", "accuracy"] == 0.5 * (0.5 + 0.25)  # 2/4 and 1/4 correct
    assert bars.loc["vanilla", "accuracy_min"] == 0.25
    assert bool(bars.loc["vanilla", "beats_direct"]) is True
    assert bars.loc["correct", "ok_share"] == 1.0
    assert pd.isna(bars.loc["vanilla", "ok_share"])  # no trace asked for
    assert pd.isna(bars.loc["direct", "beats_direct"])


def test_sizing_and_time_from_manifests(tmp_path):
    cells = []
    for seed, (tok, sec) in enumerate([(1000, 10.0), (3000, 30.0)]):
        d = tmp_path / f"train{seed}"
        d.mkdir()
        man = {
            "n_examples": 8,
            "n_tokens": tok,
            "n_supervised_tokens": tok // 2,
            "steps": 2,
            "dtype": "bfloat16",
            "cpu": {"cpu": "X", "bf16_capability": "amx", "cores": 2},
            "torch_threads": 2,
            "timings": {"total_s": sec, "tokens_per_s": tok / sec},
        }
        (d / "manifest.json").write_text(json.dumps(man))
        pred = tmp_path / f"pred{seed}.jsonl"
        pred.with_suffix(".manifest.json").write_text(
            json.dumps({"n_problems": 5, "sessions": [{"generate_s": 4.0, "load_s": 1.0}]})
        )
        cells.append(
            {
                "dataset": "cotemp",
                "condition": "correct",
                "seed": seed,
                "train_dir": str(d),
                "predictions": str(pred),
            }
        )
    cells = pd.DataFrame(cells)
    row = inventory.sizing_table(cells).iloc[0]
    assert (row["cells"], row["tokens"], row["train_s"], row["generate_s"]) == (2, 2000, 20, 5)
    machine = inventory.machine_table(cells)
    assert len(machine) == 1 and machine.iloc[0]["cells"] == 2
    bd = inventory.time_breakdown({"compute_seconds": 60.0}, cells, {"01_data": 6.0})
    s = bd.set_index("stage")["seconds"]
    assert (s["training"], s["generation"], s["total"]) == (40.0, 10.0, 66.0)
    assert "amx" in inventory.machine_markdown(machine, bd)
