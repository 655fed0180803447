"""Automatic proxies of interpretability per trace type (book chapter 6; *not* human ratings).

With no human responses the book shows what can be measured on the stimuli themselves: length
in words (and in tokens, given a tokenizer), number of sentences and of lines ("steps"), and two
readability formulas:

* Flesch reading ease ``206.835 - 1.015 * words/sentences - 84.6 * syllables/words`` (higher =
  easier; 60-70 is plain English);
* Flesch-Kincaid grade ``0.39 * words/sentences + 11.8 * syllables/words - 15.59`` (US school
  grade).

Syllables are counted with ``pyphen``'s en_US hyphenation dictionary (hyphenation points + 1 per
word), which is what ``textstat`` falls back to for words outside the CMU dictionary; ``textstat``
itself is not used because its English mode downloads the CMU dictionary through NLTK at run time,
which an offline build cannot do. Hyphenation undercounts long words slightly, so the scores are
comparable between trace types, not to published Flesch tables. These are proxies: long,
hard-to-read text plausibly costs more effort, but no proxy here was validated against the
paper's (unpublished) ratings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pandas as pd

from .design import TRACE_TYPES, TYPE_TITLES

_WORD = re.compile(r"\b\w+\b")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s+|$)")


@lru_cache(maxsize=1)
def _hyphenator():
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    """Estimated syllables of one word (pyphen hyphenation points + 1; digits count 1).

    Examples
    --------
    >>> syllables("reasoning"), syllables("cat")
    (3, 1)
    """
    return len(_hyphenator().positions(word.lower())) + 1


def text_proxies(text: str, count_tokens: Callable[[str], int] | None = None) -> dict[str, Any]:
    """Length, sentence/step counts and readability of one text.

    Examples
    --------
    >>> p = text_proxies("The cat sat. Then it slept!\\nDone.")
    >>> (p["words"], p["sentences"], p["lines"], p["syllables"])
    (7, 3, 2, 7)
    >>> round(p["flesch_reading_ease"], 1)  # 206.835 - 1.015 * 7/3 - 84.6 * 7/7
    119.9
    """
    lines = [s for s in text.splitlines() if s.strip()]
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    words = _WORD.findall(text)
    n_w, n_s = len(words), max(1, len(sentences))
    syl = sum(syllables(w) for w in words)
    out = {
        "words": n_w,
        "characters": len(text),
        "sentences": len(sentences),
        "lines": len(lines),
        "syllables": syl,
        "flesch_reading_ease": 206.835 - 1.015 * n_w / n_s - 84.6 * syl / n_w if n_w else None,
        "fk_grade": 0.39 * n_w / n_s + 11.8 * syl / n_w - 15.59 if n_w else None,
    }
    if count_tokens is not None:
        out["tokens"] = int(count_tokens(text))
    return out


def proxy_items(stimuli: dict[str, Any], count_tokens=None) -> pd.DataFrame:
    """One row per stimulus: its type, problem and every proxy of :func:`text_proxies`."""
    rows = [
        {
            "sid": s["sid"],
            "type": s["type"],
            "problem": s["problem"],
            **text_proxies(s["text"], count_tokens),
        }
        for s in stimuli["stimuli"]
    ]
    return pd.DataFrame(rows)


def proxy_table(items: pd.DataFrame) -> pd.DataFrame:
    """Mean (and median words) of every proxy per trace type, types in the study's order."""
    metrics = [c for c in items.columns if c not in ("sid", "type", "problem")]
    g = items.groupby("type")
    out = g[metrics].mean()
    out.insert(0, "n_stimuli", g.size())
    out["median_words"] = g["words"].median()
    out = out.reindex([t for t in TRACE_TYPES if t in out.index])
    out.insert(0, "title", [TYPE_TITLES[t] for t in out.index])
    return out.reset_index()


def plot_proxies(items: pd.DataFrame):
    """Bar charts (mean with 95% CI over stimuli) of words and reading ease per trace type."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = [t for t in TRACE_TYPES if t in set(items["type"])]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, (col, label) in zip(
        axes, [("words", "words"), ("flesch_reading_ease", "Flesch reading ease")], strict=True
    ):
        sns.barplot(items, x="type", y=col, order=order, errorbar=("ci", 95), ax=ax, seed=0)
        ax.set_xlabel("")
        ax.set_ylabel(label)
        ax.tick_params(axis="x", rotation=20)
    fig.suptitle("Automatic proxies per trace type (not human ratings)")
    fig.tight_layout()
    return fig


def token_counter(student: str) -> Callable[[str], int]:
    """Token count of a text with ``student``'s tokenizer (no special tokens added)."""
    from ..students.catalog import load_tokenizer

    tok = load_tokenizer(student)
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
