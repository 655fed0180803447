"""CLI verbs of the student stage: ``tracekd train``, ``tracekd generate`` and their benchmarks.

tracekd train --config CONFIG.yaml | --student NAME --sft sft.jsonl [--out runs] [--seed N]
              [--quant {nf4,none}] [--loss {completion,full}]      -> prints the run folder
tracekd generate --student NAME [--adapter RUN_DIR] --problems problems.jsonl
                 --out predictions.jsonl [--limit N]
tracekd bench train | bench generate                               -> table + JSON
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..students.train import load_train_config, train

    cfg, run = load_train_config(
        args.config,
        student=args.student,
        quant=args.quant,
        loss=args.loss,
        dtype=args.dtype,
        epochs=args.epochs,
        max_steps=args.max_steps,
        num_threads=args.threads,
    )
    sft = args.sft or run.get("sft")
    if sft is None:
        raise ConfigError(
            "tracekd train: no SFT file; pass --sft sft.jsonl or put `sft:` in the config file."
        )
    seed = args.seed if args.seed is not None else int(run.get("seed", 0))
    out = Path(args.out or run.get("out", "runs/train"))  # run folder = OUT/<hash>
    d = train(cfg, sft, runs_root=out.parent, experiment=out.name, seed=seed)
    print(d)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from ..config import GenerateConfig, load_config, validate_config
    from ..records import read_problems
    from ..students.generate import generate, load_predictions

    cfg = load_config(GenerateConfig, args.config) if args.config else GenerateConfig()
    over = {
        k: v
        for k, v in {
            "max_new_tokens": args.max_new_tokens,
            "batch_size": args.batch_size,
            "dtype": args.dtype,
        }.items()
        if v is not None
    }
    if over:
        cfg = validate_config(GenerateConfig, {**cfg.model_dump(), **over}, "<flags>")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    problems = read_problems(args.problems)
    out = generate(
        args.student,
        problems,
        args.out,
        cfg=cfg,
        adapter=args.adapter,
        limit=args.limit,
        quant=args.quant,
        system=args.system,
    )
    preds = load_predictions(out)
    n_max = sum(bool(r.get("hit_max_new_tokens")) for r in preds.values())
    print(f"{out}: {len(preds)} predictions ({n_max} hit max_new_tokens={cfg.max_new_tokens})")
    return 0


def _bench_train(args: argparse.Namespace) -> int:
    from ..bench.students import bench_train

    bench_train(
        steps=args.steps,
        out=args.out,
        threads=args.threads,
        dtype=args.dtype,
        quant=args.quant,
        ref_dtype=args.ref_dtype,
        profile=args.profile,
    )
    return 0


def _bench_generate(args: argparse.Namespace) -> int:
    from ..bench.students import bench_generate

    res = bench_generate(
        n_problems=args.n,
        out=args.out,
        threads=args.threads,
        adapter=args.adapter,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        dtype=args.dtype,
    )
    return 0 if res["identical"] else 1


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add ``train``, ``generate``, ``bench train`` and ``bench generate``."""
    p = sub.add_parser(
        "train",
        help="LoRA/QLoRA fine-tune a student on an SFT file; prints the "
        "run folder (finished runs are reused, killed runs resume).",
    )
    p.add_argument(
        "--config",
        help="YAML: TrainConfig fields, or a `train:` section plus optional sft/seed/out keys.",
    )
    p.add_argument("--student", help="Student registry name, hub id or folder.")
    p.add_argument("--sft", help="SFT JSON-lines file (tracekd traces).")
    p.add_argument("--out", help="Experiment folder; the run is OUT/<hash> (default runs/train).")
    p.add_argument("--seed", type=int, help="Training seed (default 0).")
    p.add_argument("--quant", choices=["nf4", "none"], help="nf4 = QLoRA, none = bf16/fp32 LoRA.")
    p.add_argument(
        "--loss",
        choices=["completion", "full"],
        help="completion = trace+answer only (default); full = whole text (reference).",
    )
    p.add_argument("--dtype", choices=["auto", "bfloat16", "float32", "float16"])
    p.add_argument("--epochs", type=float)
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--threads", type=int, help="torch threads.")
    p.set_defaults(func=_train)

    g = sub.add_parser("generate", help="Batched greedy generation into a resumable JSONL file.")
    g.add_argument("--student", required=True, help="Student registry name, hub id or folder.")
    g.add_argument(
        "--adapter", help="Training run folder (or its adapter/); omit for direct prompting."
    )
    g.add_argument("--problems", required=True, help="problems.jsonl")
    g.add_argument("--out", required=True, help="predictions.jsonl (appended; resumes).")
    g.add_argument("--limit", type=int, help="Only the first N problems.")
    g.add_argument("--config", help="YAML with GenerateConfig fields.")
    g.add_argument("--quant", choices=["nf4", "none"], default="none")
    g.add_argument("--dtype", choices=["auto", "bfloat16", "float32", "float16"])
    g.add_argument("--max-new-tokens", dest="max_new_tokens", type=int)
    g.add_argument("--batch-size", dest="batch_size", type=int)
    g.add_argument("--system", default="neutral", help="System prompt name (as in the SFT data).")
    g.add_argument("--threads", type=int, help="torch threads.")
    g.set_defaults(func=_generate)

    bt = bench.add_parser(
        "train",
        help="Ours vs TRL SFTTrainer (its completion-only loss): tokens/s, model-FLOP "
        "utilisation and loss curves, side by side on the same CoTemp-style correct-trace data.",
    )
    bt.add_argument(
        "--steps", type=int, default=16, help="Optimiser steps (one epoch: steps x batch examples)."
    )
    bt.add_argument(
        "--profile",
        default="default",
        help="Profile whose train section (student, LoRA, lr) is used.",
    )
    bt.add_argument("--threads", type=int, default=2)
    bt.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32"])
    bt.add_argument(
        "--ref-dtype",
        dest="ref_dtype",
        default=None,
        choices=["auto", "bfloat16", "float32"],
        help="Reference dtype (default: same as --dtype).",
    )
    bt.add_argument("--quant", default="none", choices=["nf4", "none"])
    bt.add_argument("--out", default="runs/bench/train.json")
    bt.set_defaults(func=_bench_train)

    bg = bench.add_parser(
        "generate",
        help="Batched vs one-prompt-at-a-time greedy generation "
        "(problems/s, identical outputs checked).",
    )
    bg.add_argument("--n", type=int, default=64, help="Test problems.")
    bg.add_argument(
        "--adapter", help="Run folder; default: a short cached bench run; none = base model."
    )
    bg.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=128)
    bg.add_argument("--batch-size", dest="batch_size", type=int, default=50)
    bg.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32"])
    bg.add_argument("--threads", type=int, default=2)
    bg.add_argument("--out", default="runs/bench/generate.json")
    bg.set_defaults(func=_bench_generate)
