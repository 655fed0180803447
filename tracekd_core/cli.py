"""The ``tracekd`` command line: one verb group per stage, each in ``tracekd_core/commands/``.

    tracekd data make | data check | traces      (data layer)
    tracekd train | generate                      (students)
    tracekd score | compare                       (decoupled evaluation)
    tracekd run --profile NAME                    (the experiment grid + notebooks)
    tracekd bench data | train | generate | score (benchmarks)

Each ``commands`` module exposes ``register(sub, bench)``; handlers import heavy libraries lazily
so ``tracekd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import TracekdError

COMMAND_MODULES = ("data", "traces", "students", "evaluate", "run", "intervene", "teacher", "study")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every verb group registered)."""
    parser = argparse.ArgumentParser(prog="tracekd", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="Debug logging.")
    sub = parser.add_subparsers(dest="command", required=True)
    bench_parser = sub.add_parser("bench", help="Benchmarks (print a table, write JSON).")
    bench = bench_parser.add_subparsers(dest="bench_command", required=True)
    for name in COMMAND_MODULES:
        mod = importlib.import_module(f"tracekd_core.commands.{name}")
        mod.register(sub, bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tracekd`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return int(args.func(args) or 0)
    except TracekdError as e:
        print(f"tracekd: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
