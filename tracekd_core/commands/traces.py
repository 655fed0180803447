"""``tracekd traces``: problems.jsonl -> sft.jsonl for one SFT kind (paper 2-3, docs/traces.md).

    tracekd traces --problems problems.jsonl --kind {none,label_only,correct,incorrect}
                   [--corruption NAME] [--template NAME] [--split train|test|all]
                   --seed S --out sft.jsonl

``--kind incorrect`` without ``--corruption`` uses ``both`` (the reference's incorrect traces).
"""

from __future__ import annotations

import argparse
from collections import Counter

KINDS = ("none", "label_only", "correct", "incorrect")


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add the ``traces`` verb to the tracekd parser."""
    p = sub.add_parser("traces", help="Build SFT examples (trace + answer targets) from problems.")
    p.add_argument("--problems", required=True, help="Problem JSON-lines file (records format).")
    p.add_argument("--kind", required=True, choices=KINDS, help="SFT kind (assistant target).")
    p.add_argument(
        "--corruption",
        default=None,
        help="Corruption for --kind incorrect: label | retrieval | both | swap (default both).",
    )
    p.add_argument("--template", default="reference", help="Trace template (default reference).")
    p.add_argument(
        "--split",
        default="train",
        choices=("train", "test", "all"),
        help="Which problems to use (default train).",
    )
    p.add_argument("--seed", type=int, default=0, help="Corruption seed (default 0).")
    p.add_argument("--out", required=True, help="Output sft.jsonl.")
    p.set_defaults(func=_traces)


def _traces(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..records import read_problems, write_jsonl
    from ..traces.decompose import build_sft_examples

    problems = read_problems(args.problems)
    if args.split != "all":
        problems = [p for p in problems if p.split == args.split]
    if not problems:
        raise ConfigError(
            f"{args.problems}: no problems with split {args.split!r}; "
            "choose another --split (train | test | all)."
        )
    corruption = args.corruption
    if args.kind == "incorrect" and corruption is None:
        corruption = "both"
    records = build_sft_examples(
        problems, args.kind, corruption=corruption, template=args.template, seed=args.seed
    )
    n = write_jsonl(args.out, records)
    by_dataset = Counter(p.dataset for p in problems)
    n_empty = sum(r["trace"]["support_text"] == [] for r in records)
    print(
        f"wrote {n} SFT examples to {args.out} (kind={args.kind}, corruption={corruption}, "
        f"template={args.template}, split={args.split}, seed={args.seed})"
    )
    print("per dataset: " + ", ".join(f"{k}={v}" for k, v in sorted(by_dataset.items())))
    if n_empty:
        print(f"{n_empty} traces state the empty support [] (no non-supporting context item)")
    return 0
