"""CLI verbs of this stage (placeholder until the stage lands)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, bench: argparse._SubParsersAction) -> None:
    """Add this stage's verbs to the tracekd parser."""
