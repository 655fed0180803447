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

from ..errors import TraceFormatError
from ..records import Problem, iter_jsonl, read_problems
from ..traces.corrupt import check_corrupted as check_one
from ..traces.stated import StatedTrace


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


def _gen_manifest(predictions: str | None) -> dict[str, Any]:
    if not predictions or (isinstance(predictions, float) and pd.isna(predictions)):
        return {}
    path = Path(predictions).with_suffix(".manifest.json")
    return json.loads(path.read_text()) if path.exists() else {}


def cell_costs(cells: pd.DataFrame) -> pd.DataFrame:
    """Compute per cell: training tokens, steps and seconds, generation problems and seconds.

    Read from the train and generate manifests, so the numbers are those of the runs that did
    the work (a resumed run adds its sessions; a skipped cell keeps its original timings).
    """
    rows = []
    for cell in cells.itertuples():
        train_dir = getattr(cell, "train_dir", None)
        m = _manifest(train_dir) if isinstance(train_dir, str) else {}
        t = m.get("timings") or {}
        g = _gen_manifest(getattr(cell, "predictions", None))
        sessions = g.get("sessions") or []
        rows.append(
            {
                "dataset": cell.dataset,
                "condition": cell.condition,
                "seed": None if pd.isna(cell.seed) else int(cell.seed),
                "train_examples": m.get("n_examples"),
                "train_tokens": m.get("n_tokens"),
                "supervised_tokens": m.get("n_supervised_tokens"),
                "steps": m.get("steps"),
                "train_s": t.get("total_s"),
                "tokens_per_s": t.get("tokens_per_s"),
                "model_gflops_per_s": t.get("model_gflops_per_s"),
                "test_problems": g.get("n_problems"),
                "generate_s": sum(s.get("generate_s", 0.0) + s.get("load_s", 0.0) for s in sessions)
                if sessions
                else None,
            }
        )
    return pd.DataFrame(rows)


def sizing_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Chapter 2's sizing rationale: per dataset x condition, what one cell costs (seed mean).

    Examples per cell, tokens per cell (all / supervised), optimiser steps, training seconds,
    training tokens/s, test problems and generation seconds per cell, and the number of cells.
    """
    c = cell_costs(cells)
    agg = c.groupby(["dataset", "condition"], sort=False).agg(
        cells=("condition", "size"),
        examples=("train_examples", "mean"),
        tokens=("train_tokens", "mean"),
        supervised_tokens=("supervised_tokens", "mean"),
        steps=("steps", "mean"),
        train_s=("train_s", "mean"),
        tokens_per_s=("tokens_per_s", "mean"),
        test_problems=("test_problems", "mean"),
        generate_s=("generate_s", "mean"),
    )
    return agg.reset_index()


def machine_table(cells: pd.DataFrame) -> pd.DataFrame:
    """The machine the grid ran on, from the manifests: CPU, bf16 capability, dtype, threads.

    One row per distinct (cpu, capability, dtype, threads) combination: more than one row means
    the cells of this grid did not all run under the same settings.
    """
    rows = []
    for cell in cells.itertuples():
        train_dir = getattr(cell, "train_dir", None)
        m = _manifest(train_dir) if isinstance(train_dir, str) else {}
        if not m:
            m = _gen_manifest(getattr(cell, "predictions", None))
        cpu = m.get("cpu") or {}
        rows.append(
            {
                "cpu": cpu.get("cpu"),
                "bf16_capability": cpu.get("bf16_capability"),
                "torch_cpu_capability": cpu.get("torch_cpu_capability"),
                "cores": cpu.get("cores"),
                "torch_threads": m.get("torch_threads", cpu.get("torch_threads")),
                "dtype": m.get("dtype"),
                "device": m.get("device"),
            }
        )
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    keys = list(df.columns)
    return df.fillna("-").groupby(keys).size().rename("cells").reset_index()


def time_breakdown(index: dict[str, Any], cells: pd.DataFrame, notebooks_s: dict[str, float]):
    """Where the build's time went: training, generation, the rest of the grid, notebooks.

    ``notebooks_s`` maps notebook name -> execution seconds (``runs/<profile>/notebooks/
    timings.json``, written by ``tracekd run``). Returns a table with seconds and shares.
    """
    c = cell_costs(cells)
    train = float(c["train_s"].fillna(0).sum())
    gen = float(c["generate_s"].fillna(0).sum())
    grid = float(index.get("compute_seconds") or index.get("wall_seconds") or 0.0)
    nb = float(sum(notebooks_s.values()))
    rows = [
        ("training", train),
        ("generation", gen),
        ("data, scoring and other grid work", max(0.0, grid - train - gen)),
        ("notebooks (executed before this page)", nb),
    ]
    df = pd.DataFrame(rows, columns=["stage", "seconds"])
    total = df["seconds"].sum()
    df["share"] = df["seconds"] / total if total else 0.0
    df.loc[len(df)] = ["total", total, 1.0 if total else 0.0]
    df["minutes"] = df["seconds"] / 60
    return df


def notebook_timings(profile: str, root: str | Path = ".", runs_root: str = "runs") -> dict:
    """Execution seconds per notebook recorded by the last ``tracekd run`` (may be empty)."""
    path = Path(root) / runs_root / profile / "notebooks" / "timings.json"
    return json.loads(path.read_text()) if path.exists() else {}


def machine_markdown(machine: pd.DataFrame, breakdown: pd.DataFrame) -> str:
    """One paragraph for the findings page: the machine, dtype, threads and where time went."""
    if machine.empty:
        return "No run manifests found: the machine this grid ran on is unknown."
    m = machine.sort_values("cells", ascending=False).iloc[0]
    parts = {r.stage: r.seconds for r in breakdown.itertuples()}
    total = parts.get("total", 0.0)
    mixed = (
        f" **Warning:** the cells ran under {len(machine)} different machine/dtype settings."
        if len(machine) > 1
        else ""
    )
    return (
        f"This build ran on **{m['cpu']}** ({m['cores']} cores; bf16 capability "
        f"`{m['bf16_capability']}`, torch CPU capability `{m['torch_cpu_capability']}`) in "
        f"**{m['dtype']}** with {m['torch_threads']} torch threads.{mixed} Its compute took "
        f"{total / 60:.1f} min: training {parts.get('training', 0) / 60:.1f} min, generation "
        f"{parts.get('generation', 0) / 60:.1f} min, other grid work "
        f"{parts.get('data, scoring and other grid work', 0) / 60:.1f} min and the other "
        f"notebooks {parts.get('notebooks (executed before this page)', 0) / 60:.1f} min "
        "(the Jupyter Book build itself is not included)."
    )


def study_bars(items: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x condition: share of outputs with a parseable trace and answer (``ok``;
    empty for conditions that emit no trace),
    answer accuracy (mean over seeds, with its seed range) and the direct-prompting accuracy on
    the same problems; ``beats_direct`` compares the seed mean with it.
    """
    if items.empty:
        return pd.DataFrame()
    per_seed = (
        items.groupby(["dataset", "condition", "seed"], sort=False)
        .agg(
            n=("id", "size"),
            ok=("status", lambda s: float((s == "ok").mean())),
            accuracy=("answer_correct", "mean"),
        )
        .reset_index()
    )
    out = (
        per_seed.groupby(["dataset", "condition"], sort=False)
        .agg(
            seeds=("seed", "nunique"),
            n_per_seed=("n", "max"),
            ok_share=("ok", "mean"),
            accuracy=("accuracy", "mean"),
            accuracy_min=("accuracy", "min"),
            accuracy_max=("accuracy", "max"),
        )
        .reset_index()
    )
    from ..experiment.conditions import get_condition

    traced = out["condition"].map(lambda c: get_condition(c).kind not in (None, "none"))
    out["ok_share"] = out["ok_share"].where(traced)  # no trace asked for: not applicable
    direct = out[out["condition"] == "direct"].set_index("dataset")["accuracy"]
    out["direct_accuracy"] = out["dataset"].map(direct)
    beats = (out["accuracy"] > out["direct_accuracy"]).astype("boolean")
    out["beats_direct"] = beats.mask(out["condition"] == "direct")
    return out
