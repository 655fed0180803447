"""CLI verb of the inference-time interventions (book chapter 7): ``tracekd intervene``.

tracekd intervene --student S [--adapter RUN] --problems P --predictions PRED --out DIR
                  [--kinds own,gold,...] [--n-problems 30] [--max-new-tokens 24] [--seed 0]
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add ``intervene`` to the tracekd parser."""
    from ..experiment.intervene import KINDS

    p = sub.add_parser(
        "intervene", help="Force trace prefixes at inference, generate only the answer."
    )
    p.add_argument("--student", required=True, help="Student registry name, hub id or folder.")
    p.add_argument("--adapter", default=None, help="Training run folder (or its adapter/).")
    p.add_argument("--problems", required=True, help="problems.jsonl (test split is used).")
    p.add_argument("--predictions", required=True, help="The student's predictions.jsonl.")
    p.add_argument("--out", required=True, help="Folder for items.jsonl and summary.json.")
    p.add_argument(
        "--kinds", default=",".join(KINDS), help=f"Comma-separated kinds (default: all {KINDS})."
    )
    p.add_argument("--n-problems", type=int, default=None, help="Test problems to use (sample).")
    p.add_argument("--max-new-tokens", type=int, default=24, help="Answer budget.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the sample and corruptions.")
    p.set_defaults(func=cmd_intervene)


def cmd_intervene(args: argparse.Namespace) -> int:
    """Run ``intervene.intervene`` and print the per-kind summary."""
    from ..config import GenerateConfig
    from ..experiment.intervene import intervene

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    cfg = GenerateConfig(max_new_tokens=args.max_new_tokens)
    s = intervene(
        args.student,
        args.adapter,
        args.problems,
        args.predictions,
        args.out,
        cfg=cfg,
        kinds=kinds,
        n_problems=args.n_problems,
        seed=args.seed,
    )
    for kind, r in s["kinds"].items():
        print(
            f"{kind:10s} n={r['n']:4d} changed={r['change_rate']:.3f} "
            f"acc={r['accuracy']:.3f} (baseline {r['baseline_accuracy']:.3f}) "
            f"McNemar p={r['mcnemar_p']:.3g}"
        )
    return 0
