"""Book chapter 6 (interpretability study): the sentences and tables the notebook shows.

The notebook stays thin: these functions turn the profile's study folder (stimuli, proxies,
responses) into markdown whose every number is computed, never typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .analysis import analyze_dir
from .design import ATTENTION_CHECKS


def design_markdown(stimuli: dict[str, Any], max_failed: int, where: str) -> str:
    """The design paragraph: stimuli count, randomisation, attention checks, exclusion rule."""
    n_stim, n_types = len(stimuli["stimuli"]), len(stimuli["conditions"])
    return (
        f"**Design.** Within-subject: every participant rates all {n_stim} stimuli "
        f"({len(stimuli['problems'])} problems x {n_types} trace types), one per page, in an "
        "order shuffled per participant (Fisher-Yates with a mulberry32 generator seeded by the "
        f"FNV-1a hash of `'{stimuli['seed']}:<participant id>'`; the analysis recomputes it and "
        f"rejects a response whose order differs). {len(ATTENTION_CHECKS)} attention checks sit "
        "among the items on the pages at one third and two thirds of the order; a participant "
        f"who fails more than {max_failed} of them is excluded before any statistic. "
        f"Stimuli: {stimuli['source']}; survey `{stimuli['survey_id']}` in `{where}`."
    )


def proxy_markdown(proxies: pd.DataFrame, n_stimuli: int) -> str:
    """One sentence on the longest and shortest type and the range of reading ease."""
    by_words = proxies.sort_values("words")
    longest, shortest = by_words.iloc[-1], by_words.iloc[0]
    return (
        f"On these {n_stimuli} stimuli the longest type is *{longest['title']}* "
        f"({longest['words']:.0f} words on average) and the shortest *{shortest['title']}* "
        f"({shortest['words']:.0f} words); Flesch reading ease ranges from "
        f"{proxies['flesch_reading_ease'].min():.0f} to {proxies['flesch_reading_ease'].max():.0f}."
    )


def profile_responses(
    study_dir: str | Path, stimuli: dict[str, Any], max_failed: int
) -> tuple[dict[str, pd.DataFrame] | None, str]:
    """Analyse ``study_dir/responses`` if it holds any file; return ``(tables or None, text)``.

    The tables are also written as CSVs to ``study_dir/analysis``.
    """
    study_dir = Path(study_dir)
    responses = study_dir / "responses"
    if not (responses.exists() and any(responses.glob("*.jsonl"))):
        return None, (
            "*No human responses yet* (no `*.jsonl` in `responses/` of the study folder): the "
            "table below shows the paper's numbers only. Collect answers with `tracekd study "
            "serve --dir <study folder>` (docs/study.md)."
        )
    tables = analyze_dir(responses, study_dir / "analysis", stimuli=stimuli, max_failed=max_failed)
    ex = tables["exclusions"].iloc[0]
    return tables, (
        f"{ex['responses']} responses, {ex['failed_attention']} excluded by the attention "
        f"checks, {ex['kept']} analysed."
    )


def empty_means() -> pd.DataFrame:
    """A means table with no rows (the paper-vs-ours table before any response)."""
    return pd.DataFrame(
        columns=["construct", "type", "mean", "ci_low", "ci_high", "n_participants"]
    )
