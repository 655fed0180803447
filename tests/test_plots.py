"""Figures of the book (report/plots.py) on tiny tidy tables, without the grid."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tracekd_core.report import plots  # noqa: E402


def _dis() -> pd.DataFrame:
    rows = []
    for ds in ("cotemp", "babi"):
        for step, (tt, tf, ft, ff) in {"label": (3, 1, 2, 4), "trace": (2, 2, 1, 5)}.items():
            rows.append(
                {"dataset": ds, "student": "s", "condition": "correct", "seed": 0, "step": step}
                | {"tt": tt, "tf": tf, "ft": ft, "ff": ff}
            )
    return pd.DataFrame(rows)


def _cell_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_heatmap_2x2_puts_answer_rows_and_step_columns():
    fig, ax = plt.subplots()
    plots.heatmap_2x2(ax, {"tt": 1, "tf": 2, "ft": 3, "ff": 4}, "trace", shares=True)
    assert _cell_texts(ax) == ["1\n10%", "2\n20%", "3\n30%", "4\n40%"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["trace ✓", "trace ✗"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["answer ✓", "answer ✗"]
    plt.close(fig)


def test_confusion_heatmaps_sum_seeds_per_step():
    dis = pd.concat([_dis(), _dis().assign(seed=1)])
    fig = plots.confusion_heatmaps(dis[dis["dataset"] == "cotemp"], title="t")
    assert [ax.get_title() for ax in fig.axes] == ["answer x label", "answer x trace"]
    assert _cell_texts(fig.axes[1]) == ["4", "4", "2", "10"]  # seeds 0 and 1 summed
    plt.close(fig)


def test_headline_figure_one_panel_per_dataset_and_none_without_the_condition():
    fig = plots.headline_figure(_dis())
    assert sorted(ax.get_title() for ax in fig.axes) == ["babi (s)", "cotemp (s)"]
    assert _cell_texts(fig.axes[0])[0] == "2\n20%"
    plt.close(fig)
    assert plots.headline_figure(_dis(), condition="incorrect") is None
    assert plots.headline_figure(_dis().iloc[0:0]) is None


def test_accuracy_bars_orders_conditions_and_draws_one_dot_per_seed(tmp_path):
    table = pd.DataFrame(
        [
            {"dataset": "cotemp", "condition": c, "seed": s, "k": k, "n": 10, "rate": k / 10}
            for c, ks in {"incorrect": (3, 5), "direct": (2, 2), "correct": (4, 6)}.items()
            for s, k in enumerate(ks)
        ]
    )
    fig = plots.accuracy_bars(table)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["direct", "correct", "incorrect"]
    heights = [round(p.get_height(), 3) for p in ax.patches]
    assert heights == [0.2, 0.5, 0.4]
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")) >= 6
    path = plots.save(fig, tmp_path / "figs" / "bars.png")
    assert path.stat().st_size > 1000
    plt.close(fig)


@pytest.mark.parametrize("values", [["vanilla", "zzz", "direct"]])
def test_unknown_conditions_go_last_in_first_seen_order(values):
    assert plots._order(pd.Series(values)) == ["direct", "vanilla", "zzz"]
