"""CLI verbs of decoupled evaluation (paper section 6): ``score``, ``compare``, ``bench score``.

tracekd score --problems P --predictions PRED --out DIR [--answer-scoring strict|reference]
              [--trace-scoring strict|reference]
tracekd compare DIR_A DIR_B [--n-boot 2000] [--seed 0] [--json OUT]
tracekd bench score [--n 10000] [--out runs/bench/score.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

MODES = ("strict", "reference")


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add ``score``, ``compare`` and ``bench score`` to the tracekd parser."""
    p = sub.add_parser("score", help="Score predictions: answer and trace steps separately.")
    p.add_argument("--problems", required=True, help="problems.jsonl (the data layer's records).")
    p.add_argument("--predictions", required=True, help='predictions.jsonl ({"id", "output"}).')
    p.add_argument("--out", required=True, help="Folder for items.jsonl and summary.json.")
    p.add_argument(
        "--answer-scoring",
        choices=MODES,
        default="strict",
        help="Mode of answer_accuracy (both modes are always reported).",
    )
    p.add_argument(
        "--trace-scoring",
        choices=MODES,
        default="strict",
        help="Mode of the trace-step fields and tables.",
    )
    p.add_argument("--parser", default="reference", help="Parser name in registry.PARSERS.")
    p.add_argument(
        "--split",
        choices=("train", "test"),
        default=None,
        help="Score only the problems of this split (default: every problem).",
    )
    p.set_defaults(func=cmd_score)

    c = sub.add_parser(
        "compare", help="Paired differences of two scored runs (McNemar, bootstrap)."
    )
    c.add_argument("dir_a", metavar="DIR_A", help="Scored run folder (baseline).")
    c.add_argument("dir_b", metavar="DIR_B", help="Scored run folder (compared to DIR_A).")
    c.add_argument("--n-boot", type=int, default=2000, help="Bootstrap resamples.")
    c.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap.")
    c.add_argument("--json", default=None, help="Also write the comparison as JSON here.")
    c.set_defaults(func=cmd_compare)

    b = bench.add_parser("score", help="Parse + score + summarise N synthetic items; items/s.")
    b.add_argument("--n", type=int, default=10_000, help="Number of items.")
    b.add_argument("--seed", type=int, default=0, help="Seed of the synthetic items.")
    b.add_argument("--out", default="runs/bench/score.json", help="Where to write the JSON result.")
    b.set_defaults(func=cmd_bench_score)


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def _check_ids_overlap(problems_path: str, predictions_path: str, split: str | None) -> None:
    """Predictions that answer none of the problems are another file's, not a 0% score."""
    from ..errors import ConfigError
    from ..evaluation.score import read_predictions
    from ..records import read_problems

    ids = {p.id for p in read_problems(problems_path) if split is None or p.split == split}
    preds = read_predictions(predictions_path)
    if preds and not ids & set(preds):
        raise ConfigError(
            f"--predictions {predictions_path}: none of its {len(preds)} ids is a problem id of "
            f"--problems {problems_path}" + (f" (split {split!r})" if split else "") + ", e.g. "
            f"{next(iter(preds))!r}. Pass the problems file these predictions were generated for."
        )


def cmd_score(args: argparse.Namespace) -> int:
    """Handler of ``tracekd score``."""
    from ..evaluation.score import score_run

    _check_ids_overlap(args.problems, args.predictions, args.split)
    s = score_run(
        args.problems,
        args.predictions,
        args.out,
        answer_scoring=args.answer_scoring,
        trace_scoring=args.trace_scoring,
        parser=args.parser,
        split=args.split,
    )
    lo, hi = s["answer_accuracy_ci"]
    print(f"n = {s['n']}  (missing {s['n_missing']}; status {s['status_counts']})")
    print(
        f"answer accuracy [{args.answer_scoring}] {_pct(s['answer_accuracy'])} "
        f"(95% CI {_pct(lo)} - {_pct(hi)}); by mode: "
        + ", ".join(f"{m} {_pct(v)}" for m, v in s["answer_accuracy_by_mode"].items())
    )
    print(
        f"trace steps [{args.trace_scoring}]  label {_pct(s['label_accuracy'])}  retrieval "
        f"{_pct(s['retrieval_accuracy'])}  trace {_pct(s['trace_accuracy'])}  "
        f"(n evaluated {s['trace_n']})"
    )
    print(
        f"{'step':<10} {'tt':>5} {'tf':>5} {'ft':>5} {'ff':>5} {'uneval':>6} {'chi2':>8} "
        f"{'p':>9} {'phi':>6}"
    )
    for step, t in s["confusion"].items():
        ch = s["chi2"][step]
        stat = "-" if ch["statistic"] is None else f"{ch['statistic']:.2f}"
        pv = "-" if ch["p_value"] is None else f"{ch['p_value']:.3g}"
        phi = "-" if ch["phi"] is None else f"{ch['phi']:.3f}"
        print(
            f"{step:<10} {t['tt']:>5} {t['tf']:>5} {t['ft']:>5} {t['ff']:>5} "
            f"{t['unevaluated']:>6} {stat:>8} {pv:>9} {phi:>6}"
        )
    print(f"wrote {Path(args.out) / 'items.jsonl'} and {Path(args.out) / 'summary.json'}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Handler of ``tracekd compare``."""
    from ..errors import ConfigError
    from ..evaluation.compare import compare_runs, read_items
    from ..runio import atomic_write_json

    items_a, items_b = read_items(args.dir_a), read_items(args.dir_b)
    ids_a = {it.get("id") for it in items_a}
    if not ids_a & {it.get("id") for it in items_b}:
        raise ConfigError(
            f"compare {args.dir_a} {args.dir_b}: the two runs share no problem id, so there is "
            "nothing to pair. Compare runs scored on the same problems file."
        )
    rows = compare_runs(items_a, items_b, n_boot=args.n_boot, seed=args.seed)
    print(f"A = {args.dir_a}\nB = {args.dir_b}  (paired on problem id; diff = B - A)")
    print(
        f"{'metric':<26} {'n':>5} {'A':>7} {'B':>7} {'B-A':>7} {'95% CI':>17} "
        f"{'A only':>6} {'B only':>6} {'McNemar p':>10}"
    )
    for r in rows:
        ci = "-" if r["lo"] is None else f"[{100 * r['lo']:+.1f}, {100 * r['hi']:+.1f}]"
        diff = "-" if r["diff"] is None else f"{100 * r['diff']:+6.1f}"
        print(
            f"{r['metric']:<26} {r['n']:>5} {_pct(r['acc_a']):>7} {_pct(r['acc_b']):>7} "
            f"{diff:>7} {ci:>17} {r['a_only']:>6} {r['b_only']:>6} {r['mcnemar_p']:>10.3g}"
        )
    if args.json:
        atomic_write_json(
            args.json,
            {
                "dir_a": args.dir_a,
                "dir_b": args.dir_b,
                "n_boot": args.n_boot,
                "seed": args.seed,
                "rows": rows,
            },
        )
        print(f"wrote {args.json}")
    return 0


def cmd_bench_score(args: argparse.Namespace) -> int:
    """Handler of ``tracekd bench score``: time parse + both scorers + summary on N items."""
    from ..bench.scoring import bench_score
    from ..runio import atomic_write_json

    result = bench_score(args.n, args.seed)
    total = result["seconds_total"]
    atomic_write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("n", "seconds_total", "items_per_second")}))
    print(
        f"scored {args.n} items in {total:.2f} s ({args.n / total:,.0f} items/s); wrote {args.out}"
    )
    return 0
