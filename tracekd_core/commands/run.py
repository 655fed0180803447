"""``tracekd run --profile NAME``: the whole study, then the book's notebooks."""

from __future__ import annotations

import argparse
import time


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..config import load_profile
    from ..experiment.grid import run_grid
    from ..report.notebooks import assemble_docs, run_notebooks

    root = Path(args.root)
    profile = load_profile(args.profile, root / "configs")
    t0 = time.perf_counter()
    index = run_grid(profile, root)
    t_grid = time.perf_counter() - t0
    print(f"grid {profile.name}: {index} ({t_grid:.0f} s)")
    if not args.skip_notebooks:
        t1 = time.perf_counter()
        done = run_notebooks(profile.name, root, runs_root=profile.runs_root)
        assemble_docs(profile.name, root)
        print(f"notebooks: {len(done)} in {time.perf_counter() - t1:.0f} s")
    print(f"total: {time.perf_counter() - t0:.0f} s")
    return 0


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add ``run`` to the ``tracekd`` parser."""
    p = sub.add_parser("run", help="Run an experiment profile (grid + notebooks).")
    p.add_argument(
        "--profile",
        default="default",
        help="Profile name in configs/ (smoke, default, paper) or a YAML path.",
    )
    p.add_argument("--root", default=".", help="Project root (holds configs/, data/, runs/).")
    p.add_argument("--skip-notebooks", action="store_true", help="Only run the grid.")
    p.set_defaults(func=_run)
