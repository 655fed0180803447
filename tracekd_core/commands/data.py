"""``tracekd data make | data check`` and ``tracekd bench data`` (paper sections 2.1-2.3).

``data make --n N`` sizes the chosen ``--split``; without ``--split`` it is the total, split
80/20 (train = round(0.8 N)). Without ``--n`` the reference sizes (synthetic) or all problems
(real sources, with the reference's test rules) are used.
"""

from __future__ import annotations

import argparse
from collections import Counter

from ..registry import DATASETS


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add ``data make``, ``data check`` and ``bench data`` to the tracekd parser."""
    data = sub.add_parser("data", help="Make and check problem files (problems.jsonl).")
    verbs = data.add_subparsers(dest="data_command", required=True)

    make = verbs.add_parser("make", help="Generate or load problems and write problems.jsonl.")
    make.add_argument("--dataset", required=True, choices=DATASETS.names())
    make.add_argument(
        "--source",
        default="synthetic",
        help="'synthetic' (offline default), 'hub', or a folder of native files.",
    )
    make.add_argument(
        "--split",
        choices=("train", "test"),
        default=None,
        help="Write only this split (default: both).",
    )
    make.add_argument(
        "--n",
        type=int,
        default=None,
        help="Problems in --split; without --split the total, split 80/20.",
    )
    make.add_argument("--seed", type=int, required=True, help="Data seed.")
    make.add_argument("--out", required=True, help="Output problems.jsonl.")
    make.add_argument(
        "--every-question",
        action="store_true",
        help="bAbI: every question of a story (default: the first).",
    )
    make.add_argument("--marco-support", choices=("selected", "overlap"), default="selected")
    make.add_argument(
        "--n-distractors",
        type=int,
        default=8,
        help="Synthetic: distractor context items per problem.",
    )
    make.set_defaults(func=cmd_make)

    check = verbs.add_parser("check", help="Validate a problems.jsonl; print counts.")
    check.add_argument("path", help="problems.jsonl to validate.")
    check.set_defaults(func=cmd_check)

    b = bench.add_parser("data", help="Time the synthetic generators (10,000 problems each).")
    b.add_argument("--n", type=int, default=10_000, help="Problems per dataset.")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", default="runs/bench/data.json", help="Where to write the JSON.")
    b.set_defaults(func=cmd_bench)


def sizes_for(n: int | None, split: str | None) -> tuple[int | None, int | None]:
    """(n_train, n_test) for ``data make``'s ``--n`` and ``--split``.

    The split not written is sized 1 so synthetic generation does not waste time on it.

    Examples
    --------
    >>> sizes_for(100, None), sizes_for(50, "test"), sizes_for(None, "train")
    ((80, 20), (1, 50), (None, 1))
    """
    if split == "train":
        return n, 1
    if split == "test":
        return 1, n
    if n is None:
        return None, None
    n_train = round(0.8 * n)
    return n_train, n - n_train


def _counts_table(problems) -> str:
    by = Counter((p.split, p.label) for p in problems)
    splits = sorted({s for s, _ in by}, key=("train", "test").index)
    labels = sorted({lab for _, lab in by})
    w = max([len(lab) for lab in labels] + [5])
    lines = [f"{'label':<{w}} " + " ".join(f"{s:>6}" for s in splits)]
    for lab in labels:
        lines.append(f"{lab:<{w}} " + " ".join(f"{by[(s, lab)]:>6}" for s in splits))
    lines.append(
        f"{'total':<{w}} "
        + " ".join(f"{sum(v for (s2, _), v in by.items() if s2 == s):>6}" for s in splits)
    )
    return "\n".join(lines)


def cmd_make(args: argparse.Namespace) -> int:
    """Write the problems of one dataset (validated) and print counts per label and split."""
    from ..config import DataConfig, validate_config
    from ..datasets import make_problems
    from ..errors import ConfigError
    from ..records import write_problems

    least = 1 if args.split else 2
    if args.n is not None and args.n < least:
        raise ConfigError(
            f"--n {args.n}: need at least {least} problem(s)"
            + ("" if args.split else " (one train and one test; or pass --split)")
            + "."
        )
    n_train, n_test = sizes_for(args.n, args.split)
    cfg = validate_config(
        DataConfig,
        {
            "dataset": args.dataset,
            "source": args.source,
            "n_train": n_train,
            "n_test": n_test,
            "every_question": args.every_question,
            "marco_support": args.marco_support,
            "n_distractors": args.n_distractors,
        },
        "tracekd data make flags",
    )
    problems = make_problems(cfg, args.seed)
    if args.split:
        problems = [p for p in problems if p.split == args.split]
    n = write_problems(args.out, problems)
    print(_counts_table(problems))
    print(f"wrote {n} problems to {args.out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a problem file (RecordError -> exit 2 via cli.main) and print counts."""
    from ..records import read_problems

    problems = read_problems(args.path)
    if not problems:
        from ..errors import EmptyInputError

        raise EmptyInputError(
            f"{args.path}: no problem in the file. Write it with `tracekd data make`."
        )
    print(_counts_table(problems))
    print(f"{args.path}: {len(problems)} valid problems")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Generate ``--n`` synthetic problems of each dataset; print a table and write JSON."""
    from ..bench.datasets import bench_generators
    from ..runio import atomic_write_json, package_version

    rows = bench_generators(args.n, args.seed)
    print(f"{'dataset':<8} {'n':>7} {'seconds':>8} {'problems/s':>11}")
    for r in rows:
        print(f"{r['dataset']:<8} {r['n']:>7} {r['seconds']:>8.2f} {r['problems_per_s']:>11.0f}")
    atomic_write_json(
        args.out, {"bench": "data", "seed": args.seed, "version": package_version(), "rows": rows}
    )
    print(f"wrote {args.out}")
    return 0
