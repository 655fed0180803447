"""What went into the study: problems, traces and training runs (book chapters 1 and 2).

Tables for the data chapter (sizes per label and split, context and support sizes, example
traces, the check that every corrupted trace is verifiably wrong, paper section 3) and for the
training chapter (runs, supervised-token shares, loss histories, manifests, paper section 5).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .corrupt import check_corrupted as check_one
from .decompose import StatedTrace
from .errors import TraceFormatError
from .records import Problem, iter_jsonl, read_problems


def load_problems(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per problem of every dataset in the grid (context and support as lists)."""
    rows = []
    for path in sorted(set(cells["problems"])):
        rows += [p.to_dict() for p in read_problems(path)]
    return pd.DataFrame(rows)


def problem_counts(problems: pd.DataFrame) -> pd.DataFrame:
    """Problems per dataset x label x split (a tidy count table, pivoted for reading)."""
    t = problems.groupby(["dataset", "label", "split"]).size().rename("n").reset_index()
    wide = t.pivot_table(index=["dataset", "label"], columns="split", values="n", fill_value=0)
    wide["total"] = wide.sum(axis=1)
    return wide


def context_stats(problems: pd.DataFrame) -> pd.DataFrame:
    """Mean/min/max context items and support items per dataset and label."""
    df = problems.assign(
        n_context=problems["context"].map(len),
        n_support=problems["support"].map(len),
        n_answers=problems["answers"].map(len),
    )
    return df.groupby(["dataset", "label"]).agg(
        n=("id", "size"),
        context_mean=("n_context", "mean"),
        context_max=("n_context", "max"),
        support_mean=("n_support", "mean"),
        support_max=("n_support", "max"),
        answers_mean=("n_answers", "mean"),
    )


def _read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [obj for _, obj in iter_jsonl(path)]


def _sft_files(cells: pd.DataFrame) -> pd.DataFrame:
    return cells.dropna(subset=["sft"]).drop_duplicates(["dataset", "condition", "sft"])


def trace_examples(
    cells: pd.DataFrame, conditions: tuple[str, ...] = ("correct", "incorrect")
) -> list[str]:
    """Markdown blocks: for the first train problem of each dataset, its question and the
    assistant target of each condition (same problem in every SFT set)."""
    out = []
    sft = _sft_files(cells)
    for ds, g in sft.groupby("dataset", sort=True):
        first_id = None
        parts = [f"### {ds}"]
        for cond in conditions:
            row = g[g["condition"] == cond]
            if row.empty:
                continue
            recs = _read_jsonl(row["sft"].iloc[0])
            rec = recs[0] if first_id is None else next(r for r in recs if r["id"] == first_id)
            first_id = rec["id"]
            if len(parts) == 1:
                user = rec["messages"][1]["content"]
                parts.append(f"**Problem `{first_id}`** (user turn):\n\n```text\n{user}\n```")
            parts.append(f"**{cond}** target:\n\n```text\n{rec['messages'][-1]['content']}\n```")
        out.append("\n\n".join(parts))
    return out


def check_corrupted(problems: dict[str, Problem], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Shares of SFT records whose trace is wrong at each step and whose answer is kept.

    A record's ``trace`` field states what the trace says; it is compared with the problem's
    gold label and support. ``wrong_at_corrupted_step`` is the share that passes
    ``corrupt.check_corrupted`` (wrong at every step the corruption targets, gold elsewhere).

    Examples
    --------
    >>> p = Problem(id="a", dataset="babi", split="train", question="Where?",
    ...             context=["x", "y"], answers=["y"], label="counting", support=[1])
    >>> rec = {"id": "a", "corruption": "label", "messages": [{}, {}, {"content": "<answer>y"}],
    ...        "trace": {"label": "conjunction", "support": [1], "support_text": ["y"]}}
    >>> check_corrupted({"a": p}, [rec])["wrong_at_corrupted_step"]
    1.0
    """
    n = label_wrong = retr_wrong = step_wrong = kept = 0
    for rec in records:
        p = problems[rec["id"]]
        tr = StatedTrace(**rec["trace"])
        lw = tr.label != p.label
        rw = tr.support_text is None or set(tr.support_text) != set(p.support_text)
        try:
            check_one(p, tr, rec.get("corruption") or "both")
            wrong = True
        except TraceFormatError:
            wrong = False
        n += 1
        label_wrong += lw
        retr_wrong += rw
        step_wrong += wrong
        kept += all(a in rec["messages"][-1]["content"] for a in p.answers[:1])
    return {
        "n": n,
        "label_wrong": label_wrong / n if n else None,
        "retrieval_wrong": retr_wrong / n if n else None,
        "wrong_at_corrupted_step": step_wrong / n if n else None,
        "answer_kept": kept / n if n else None,
    }


def corruption_checks(cells: pd.DataFrame) -> pd.DataFrame:
    """``check_corrupted`` for every incorrect-trace SFT set of the grid."""
    rows = []
    for cell in _sft_files(cells).itertuples():
        recs = _read_jsonl(cell.sft)
        if not recs or recs[0]["kind"] != "incorrect":
            continue
        problems = {p.id: p for p in read_problems(cell.problems)}
        rows.append(
            {
                "dataset": cell.dataset,
                "condition": cell.condition,
                "corruption": recs[0].get("corruption"),
                **check_corrupted(problems, recs),
            }
        )
    return pd.DataFrame(rows)


def _manifest(train_dir: str) -> dict[str, Any]:
    path = Path(train_dir) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def training_table(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per training run: examples, steps, supervised-token share, loss, wall time."""
    rows = []
    for cell in cells.dropna(subset=["train_dir"]).itertuples():
        m = _manifest(cell.train_dir)
        rows.append(
            {
                "dataset": cell.dataset,
                "student": cell.student,
                "condition": cell.condition,
                "seed": int(cell.seed),
                "examples": m.get("n_examples"),
                "steps": m.get("steps", m.get("optimizer_steps")),
                "supervised_share": m.get("supervised_share"),
                "truncated": m.get("n_truncated"),
                "final_loss": m.get("final_loss"),
                "train_seconds": (m.get("timings") or {}).get("train_s"),
                "tokens_per_s": (m.get("timings") or {}).get("tokens_per_s"),
                "run": Path(cell.train_dir).name,
            }
        )
    return pd.DataFrame(rows)


def loss_history(cells: pd.DataFrame) -> pd.DataFrame:
    """Tidy loss history (dataset, condition, seed, step, loss) of every training run."""
    frames = []
    for cell in cells.dropna(subset=["train_dir"]).itertuples():
        path = Path(cell.train_dir) / "loss.jsonl"
        if not path.exists():
            continue
        df = pd.DataFrame(_read_jsonl(path))
        df["dataset"], df["condition"], df["seed"] = cell.dataset, cell.condition, int(cell.seed)
        df["student"] = cell.student
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["dataset", "student", "condition", "seed", "step", "loss"])
    return pd.concat(frames, ignore_index=True)


def manifest_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Provenance of each training run: git SHA, versions, device, dtype, seed."""
    rows = []
    for cell in cells.dropna(subset=["train_dir"]).itertuples():
        m = _manifest(cell.train_dir)
        pk = m.get("packages", {})
        rows.append(
            {
                "run": Path(cell.train_dir).name,
                "dataset": cell.dataset,
                "condition": cell.condition,
                "seed": m.get("seed"),
                "git_sha": m.get("git_sha"),
                "device": m.get("device"),
                "dtype": m.get("dtype"),
                "torch": pk.get("torch"),
                "transformers": pk.get("transformers"),
                "peft": pk.get("peft"),
            }
        )
    return pd.DataFrame(rows)
