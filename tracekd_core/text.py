"""Answer-text normalisation shared by the datasets, the traces and the scorers (paper section 6).

SQuAD-style normalisation is the one rule that decides whether two answer strings are the same;
it lives below every stage so that the CoTemp anchor detection (``datasets/cotemp.py``), the
corruption checks and the strict scorer (``evaluation/strict.py``) cannot disagree.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_WORD = re.compile(r"[^\w\s]|_")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@lru_cache(maxsize=500_000)
def normalize_text(text: str) -> str:
    """NFKC, lower-case, delete punctuation/symbols, drop articles, collapse whitespace.

    SQuAD-style; "F.C." becomes "fc" (deleted, not replaced by a space, as in the reference).

    Examples
    --------
    >>> normalize_text("The  Sevilla F.C.\\xa0Club")
    'sevilla fc club'
    """
    s = _NON_WORD.sub("", unicodedata.normalize("NFKC", text).lower())
    return " ".join(_ARTICLES.sub(" ", s).split())
