"""``tracekd teacher``: problems.jsonl -> teacher_traces.jsonl (paper section 4, docs/teacher.md).

tracekd teacher --problems problems.jsonl [--split train|test|all] [--limit N]
                [--backend local|http] [--model NAME] [--base-url URL]
                [--api-key-env VAR] [--max-new-tokens N] --cache DIR --out FILE
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add the ``teacher`` verb to the tracekd parser."""
    p = sub.add_parser("teacher", help="Teacher traces, summaries and post-hoc explanations.")
    p.add_argument("--problems", required=True, help="Problem JSON-lines file (records format).")
    p.add_argument("--split", default="train", choices=("train", "test", "all"))
    p.add_argument("--limit", type=int, default=None, help="First N problems only.")
    p.add_argument("--backend", default="local", choices=("local", "http"))
    p.add_argument("--model", default="smollm2-135m", help="Registry name or endpoint model.")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible root (http backend).")
    p.add_argument(
        "--api-key-env",
        default="DEEPSEEK_API_KEY",
        help="Environment variable holding the key ('' = none, for local servers).",
    )
    p.add_argument("--max-new-tokens", type=int, default=256, help="Local backend budget.")
    p.add_argument(
        "--import-traces",
        default=None,
        metavar="FILE",
        help="Take traces and answers from an existing CSV / JSON-lines file (e.g. R1 traces "
        "obtained elsewhere) instead of asking the teacher; the teacher then writes only the "
        "summaries and post-hoc explanations.",
    )
    p.add_argument("--id-col", default="id", help="--import-traces: problem id column.")
    p.add_argument("--trace-col", default="trace", help="--import-traces: trace column.")
    p.add_argument(
        "--answer-col",
        default="answer",
        help="--import-traces: the answer column, scored with our scorer ('' = none: every "
        "imported trace counts as solved).",
    )
    p.add_argument("--cache", required=True, help="Call cache folder (resumable).")
    p.add_argument("--out", required=True, help="Output teacher_traces.jsonl.")
    p.set_defaults(func=_teacher)


def _teacher(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..records import read_problems, write_jsonl
    from ..teacher.backends import HttpTeacher, LocalTeacher
    from ..teacher.pipeline import run_pipeline

    problems = read_problems(args.problems)
    if args.split != "all":
        problems = [p for p in problems if p.split == args.split]
    if args.limit is not None:
        if args.limit < 1:
            raise ConfigError(f"--limit has bad value {args.limit}; give a positive integer.")
        problems = problems[: args.limit]
    if not problems:
        raise ConfigError(f"{args.problems}: no problems with split {args.split!r}.")
    params: dict = {}
    if args.backend == "http":
        if not args.base_url:
            raise ConfigError("--backend http needs --base-url (e.g. https://api.deepseek.com).")
        teacher = HttpTeacher(args.base_url, args.model, api_key_env=args.api_key_env or None)
    else:
        teacher = LocalTeacher(args.model)
        params = {"max_new_tokens": args.max_new_tokens}
    imported = None
    if args.import_traces:
        imported = {
            "path": args.import_traces,
            "id_col": args.id_col,
            "trace_col": args.trace_col,
            "answer_col": args.answer_col or None,
        }
    rows = run_pipeline(teacher, problems, args.cache, params=params, imported=imported)
    n = write_jsonl(args.out, rows)
    n_ok = sum(r["correct"] for r in rows)
    print(f"wrote {n} rows to {args.out}; teacher solved {n_ok}/{n} ({args.backend}:{args.model})")
    if n_ok == 0:
        print("the teacher solved no problem: the teacher-derived SFT subset is empty")
    return 0
