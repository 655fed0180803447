"""``tracekd study``: the interpretability study kit (paper section 7, docs/study.md).

tracekd study export --out study/ [--conditions teacher_trace,teacher_summary,...] [--n N]
                     [--seed S] [--problems problems.jsonl [--split test]] [--dataset cotemp]
                     [--teacher TEACHER_OUTPUT] [--local-teacher NAME] [--max-new-tokens N]
tracekd study serve --dir study/ [--host 127.0.0.1] [--port 8765]
tracekd study analyze study/responses/ --out DIR [--stimuli study/stimuli.json]
                      [--max-failed 0] [--n-boot 2000] [--seed 0]
tracekd study proxies study/ [--out proxies.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..study.design import TRACE_TYPES


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add the ``study`` verb group to the tracekd parser."""
    p = sub.add_parser("study", help="Interpretability study: export, serve, analyze, proxies.")
    s = p.add_subparsers(dest="study_command", required=True)

    e = s.add_parser("export", help="Write a self-contained HTML survey + stimuli.json.")
    e.add_argument("--out", required=True, help="Study folder to write.")
    e.add_argument("--conditions", default=",".join(TRACE_TYPES), help="Comma-separated types.")
    e.add_argument("--n", type=int, default=4, help="Sampled problems (default 4).")
    e.add_argument("--seed", type=int, default=0, help="Sampling and order seed (default 0).")
    e.add_argument("--problems", default=None, help="Problem JSON lines (default: synthetic).")
    e.add_argument("--split", default="test", choices=("train", "test", "all"))
    e.add_argument(
        "--dataset",
        default="cotemp",
        choices=("cotemp", "babi", "marco"),
        help="Synthetic dataset when --problems is not given.",
    )
    e.add_argument(
        "--teacher",
        default=None,
        help="Teacher-pipeline output (teacher_traces.jsonl or its folder).",
    )
    e.add_argument(
        "--local-teacher",
        default="smollm2-135m",
        help="Offline teacher when --teacher is not given (registry name).",
    )
    e.add_argument("--max-new-tokens", type=int, default=96, help="Local teacher budget.")
    e.set_defaults(func=_export)

    v = s.add_parser("serve", help="Serve the survey and save answers to DIR/responses/.")
    v.add_argument("--dir", required=True, help="Exported study folder.")
    v.add_argument("--host", default="127.0.0.1", help="Bind address (default loopback).")
    v.add_argument("--port", type=int, default=8765)
    v.set_defaults(func=_serve)

    a = s.add_parser("analyze", help="Means, CIs, Friedman/Wilcoxon, ordinal model, alpha.")
    a.add_argument("responses", help="Folder of response .jsonl files (or one file).")
    a.add_argument("--out", required=True, help="Folder for the result CSVs.")
    a.add_argument(
        "--stimuli",
        default=None,
        help="stimuli.json to check responses against (default: beside responses/).",
    )
    a.add_argument("--max-failed", type=int, default=0, help="Attention checks a rater may fail.")
    a.add_argument("--n-boot", type=int, default=2000)
    a.add_argument("--seed", type=int, default=0)
    a.set_defaults(func=_analyze)

    x = s.add_parser("proxies", help="Automatic proxies per trace type (not human ratings).")
    x.add_argument("study_dir", help="Exported study folder (or its stimuli.json).")
    x.add_argument("--out", default=None, help="Write the per-stimulus proxies as CSV.")
    x.set_defaults(func=_proxies)


def _export(args: argparse.Namespace) -> int:
    from ..config import DataConfig
    from ..datasets import make_problems
    from ..errors import ConfigError
    from ..records import read_problems
    from ..study.stimuli import make_stimuli
    from ..study.survey import export_survey

    if args.teacher and not args.problems:
        raise ConfigError(
            "--teacher needs --problems: the problem file the teacher pipeline answered "
            "(its rows are matched by problem id)."
        )
    if args.problems:
        problems = read_problems(args.problems)
    else:
        cfg = DataConfig(
            dataset=args.dataset, n_train=1, n_test=max(8, 2 * args.n), n_distractors=3
        )
        problems = make_problems(cfg, args.seed)
    if args.split != "all":
        problems = [p for p in problems if p.split == args.split]
    stimuli = make_stimuli(
        problems,
        [c.strip() for c in args.conditions.split(",") if c.strip()],
        n=args.n,
        seed=args.seed,
        cache_dir=Path(args.out) / "cache",
        teacher_output=args.teacher,
        local_teacher=args.local_teacher,
        max_new_tokens=args.max_new_tokens,
    )
    page = export_survey(stimuli, args.out)
    print(
        f"wrote {page} ({len(stimuli['stimuli'])} stimuli, survey {stimuli['survey_id']}; "
        f"{stimuli['source']}); serve it with `tracekd study serve --dir {args.out}`"
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..study.server import serve

    serve(args.dir, args.host, args.port)
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from ..study.analysis import analyze_dir
    from ..study.stimuli import read_stimuli

    responses = Path(args.responses)
    stimuli_path = Path(args.stimuli) if args.stimuli else responses.parent / "stimuli.json"
    stimuli = read_stimuli(stimuli_path) if (args.stimuli or stimuli_path.exists()) else None
    tables = analyze_dir(
        responses,
        args.out,
        stimuli=stimuli,
        max_failed=args.max_failed,
        n_boot=args.n_boot,
        seed=args.seed,
    )
    ex = tables["exclusions"].iloc[0]
    print(
        f"{ex['responses']} responses, {ex['failed_attention']} excluded (attention), "
        f"{ex['kept']} analysed; tables in {args.out}"
    )
    if len(tables["means"]):
        print(
            tables["means"][
                ["construct", "type", "n_participants", "mean", "ci_low", "ci_high"]
            ].to_string(index=False)
        )
    return 0


def _proxies(args: argparse.Namespace) -> int:
    from ..study.proxies import proxy_items, proxy_table
    from ..study.stimuli import read_stimuli

    items = proxy_items(read_stimuli(args.study_dir))
    if args.out:
        items.to_csv(args.out, index=False)
    print("automatic proxies (not human ratings):")
    print(proxy_table(items).to_string(index=False))
    return 0
