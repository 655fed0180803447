"""The import-layer contract at run time (ARCHITECTURE.md; `make lint` checks it statically).

import-linter forbids the imports; this test runs the torch-free stages (data, traces,
scoring, report tables) in a fresh interpreter and checks that torch, transformers and the
students were never loaded, which also covers the two lazy imports the static contract ignores
(``cpu.describe`` in every manifest, ``seeding``).
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys, tempfile
from pathlib import Path
from tracekd_core.config import DataConfig
from tracekd_core.datasets import make_problems
from tracekd_core.evaluation.score import score_run
from tracekd_core.records import write_jsonl, write_problems
from tracekd_core.report import disconnect, findings, inventory, plots, tables
from tracekd_core.runio import base_manifest
from tracekd_core.traces.decompose import build_sft_examples

d = Path(tempfile.mkdtemp())
problems = make_problems(DataConfig(dataset="cotemp", source="synthetic", n_train=4, n_test=4), 0)
write_problems(d / "p.jsonl", problems)
train = [p for p in problems if p.split == "train"]
build_sft_examples(train, "incorrect", corruption="both", template="reference", seed=0)
preds = [{"id": p.id, "output": "<think>x</think> <answer>y</answer>"} for p in problems]
write_jsonl(d / "preds.jsonl", preds)
summary = score_run(d / "p.jsonl", d / "preds.jsonl", d / "scores")
base_manifest(seed=0)
heavy = sorted(m for m in ("torch", "transformers", "peft", "trl") if m in sys.modules)
students = sorted(m for m in sys.modules if m.startswith("tracekd_core.students"))
print(json.dumps({"n": summary["n"], "heavy": heavy, "students": students}))
"""


def test_torch_free_stages_never_load_torch_or_the_students():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=300
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["n"] == 8
    assert got["heavy"] == [] and got["students"] == []
