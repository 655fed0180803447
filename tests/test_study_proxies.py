"""Automatic proxies per trace type (study_proxies): counts, readability, tokens, table."""

from __future__ import annotations

import pytest

from tracekd_core.study.design import TRACE_TYPES
from tracekd_core.study.proxies import (
    plot_proxies,
    proxy_items,
    proxy_table,
    syllables,
    text_proxies,
    token_counter,
)


def test_counts_and_flesch_by_hand():
    p = text_proxies("The cat sat on the mat. It was happy.")
    assert (p["words"], p["sentences"], p["lines"], p["syllables"]) == (9, 2, 1, 10)
    assert p["flesch_reading_ease"] == pytest.approx(206.835 - 1.015 * 9 / 2 - 84.6 * 10 / 9)
    assert p["fk_grade"] == pytest.approx(0.39 * 9 / 2 + 11.8 * 10 / 9 - 15.59)
    assert text_proxies("")["flesch_reading_ease"] is None
    assert syllables("happy") == 2


def test_longer_harder_text_scores_harder():
    easy = text_proxies("Mary is in the hall. She went there.")
    hard = text_proxies(
        "Consequently, the temporal relationship characterising simultaneous administrative "
        "responsibilities necessitates considerable deliberation."
    )
    assert hard["flesch_reading_ease"] < easy["flesch_reading_ease"]
    assert hard["fk_grade"] > easy["fk_grade"]


def test_table_per_type_with_tokens(study_stimuli):
    count = token_counter("smollm2-135m")
    assert count("hello world") == 2
    items = proxy_items(study_stimuli, count)
    assert len(items) == 12 and (items["tokens"] >= items["words"] * 0.5).all()
    table = proxy_table(items)
    assert table["type"].tolist() == list(TRACE_TYPES)
    assert (table["n_stimuli"] == 3).all()
    # the fixture's teacher traces repeat a filler sentence: longer than its summaries
    words = table.set_index("type")["words"]
    assert words["teacher_trace"] > words["teacher_summary"]
    fig = plot_proxies(items)
    assert len(fig.axes) == 2
