"""The findings page's sentences (report/findings.py) on tiny tables, without the grid."""

from __future__ import annotations

import pandas as pd

from tracekd_core.config import dump, load_profile
from tracekd_core.report import findings


def test_best_condition_names_the_winner_and_the_runner_up():
    acc = pd.DataFrame({"condition": ["direct", "correct", "vanilla"], "rate": [0.2, 0.45, 0.4]})
    text = findings.best_condition(acc)
    assert text.startswith("Highest accuracy: **SFT correct traces** (45.0%")
    assert "runner-up SFT vanilla (answer only) 40.0%" in text


def test_best_condition_with_one_or_no_rate():
    one = pd.DataFrame({"condition": ["direct", "correct"], "rate": [0.3, None]})
    assert findings.best_condition(one).startswith("Only one condition: **")
    assert findings.best_condition(one.iloc[1:]) == "No accuracy to rank."


def test_profile_blurb_states_sizes_seeds_and_times():
    index = {"profile": dump(load_profile("smoke")), "compute_seconds": 28.0, "wall_seconds": 2.5}
    text = findings.profile_blurb(index)
    assert text.startswith("**Profile `smoke`**")
    assert "cotemp (synthetic, 16 train / 8 test)" in text
    assert "seeds: [0]" in text and "`tiny-random`" in text and "LoRA r=" in text
    assert "grid compute time: 28.0 s; last re-run: 2.5 s" in text
