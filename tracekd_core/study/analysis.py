"""``study analyze``: statistics of the interpretability study (paper 7, PAPER_NOTES 10.13).

The paper published three means and nothing else. From the item-level ratings
(``study_responses.ratings_table``) this module computes, per construct (interpretability,
cognitive load):

* participant scores: the mean of a construct's items per stimulus, then per trace type the mean
  over that participant's stimuli of the type (the unit of every test below is the participant);
* per-type means with 95% percentile-bootstrap intervals over participants;
* the Friedman test across trace types and pairwise Wilcoxon signed-rank tests (two-sided,
  zero differences dropped) with Holm's correction (statsmodels ``multipletests``);
* a proportional-odds (ordinal logistic) model of the item ratings on trace type (reference
  level ``decomposed``) plus item fixed effects, with standard errors clustered by participant
  (statsmodels ``OrderedModel``, ``cov_type="cluster"``). We cluster rather than add one effect
  per participant because fixed participant effects in a logit model are inconsistent with few
  ratings per participant (incidental parameters), and statsmodels has no random-effects ordinal
  model;
* Cronbach's alpha of each construct's items (rows = participant x stimulus);
* exclusion counts: a participant who fails more than ``max_failed`` attention checks is
  dropped before any of the above;
* the paper's three means (``resources/reference_study.csv``) beside ours.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import runio
from .design import CONSTRUCTS, TRACE_TYPES, TYPE_TITLES
from .responses import attention_table, ratings_table, read_responses

log = logging.getLogger(__name__)


def reference_study() -> pd.DataFrame:
    """The paper's published study means (trace_type, construct, mean, ...; PAPER_NOTES 7)."""
    path = resources.files("tracekd_core.resources").joinpath("reference_study.csv")
    with path.open() as fh:
        return pd.read_csv(fh, comment="#")


def cronbach_alpha(items: pd.DataFrame) -> float:
    """Cronbach's alpha of ``items`` (rows = respondents, columns = items of one scale).

    ``k / (k - 1) * (1 - sum of item variances / variance of the total)``, sample variances.
    NaN with fewer than two items or two rows, or a constant total.

    Examples
    --------
    >>> round(cronbach_alpha(pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 4, 4]})), 3)
    0.941
    """
    items = items.dropna()
    k = items.shape[1]
    if k < 2 or len(items) < 2:
        return float("nan")
    total_var = items.sum(axis=1).var(ddof=1)
    if total_var == 0:
        return float("nan")
    return float(k / (k - 1) * (1 - items.var(ddof=1).sum() / total_var))


def participant_scores(ratings: pd.DataFrame) -> pd.DataFrame:
    """Construct score per participant x trace type (mean of items, then of stimuli)."""
    per_stim = ratings.groupby(["participant", "construct", "type", "stimulus"], as_index=False)[
        "value"
    ].mean()
    return per_stim.groupby(["participant", "construct", "type"], as_index=False)["value"].mean()


def _order(types) -> list[str]:
    return [t for t in TRACE_TYPES if t in set(types)]


def type_means(scores: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean of participant scores per construct x type, 95% bootstrap CI over participants."""
    from scipy.stats import bootstrap

    rows = []
    for (construct, typ), g in scores.groupby(["construct", "type"]):
        x = g["value"].to_numpy(float)
        lo = hi = float("nan")
        if len(x) >= 2 and np.ptp(x) > 0:
            ci = bootstrap(
                (x,),
                np.mean,
                n_resamples=n_boot,
                confidence_level=0.95,
                method="percentile",
                rng=np.random.default_rng(seed),
            ).confidence_interval
            lo, hi = float(ci.low), float(ci.high)
        elif len(x) >= 2:
            lo = hi = float(x[0])
        rows.append(
            {
                "construct": construct,
                "type": typ,
                "title": TYPE_TITLES.get(typ, typ),
                "n_participants": len(x),
                "mean": float(x.mean()),
                "sd": float(x.std(ddof=1)) if len(x) > 1 else float("nan"),
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_o"] = out["type"].map({t: i for i, t in enumerate(TRACE_TYPES)})
    return out.sort_values(["construct", "_o"]).drop(columns="_o").reset_index(drop=True)


def _wide(scores: pd.DataFrame, construct: str) -> pd.DataFrame:
    w = scores[scores["construct"] == construct].pivot(
        index="participant", columns="type", values="value"
    )
    return w[_order(w.columns)].dropna()


def friedman_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Friedman chi-square across trace types per construct (complete participants only)."""
    from scipy.stats import friedmanchisquare

    rows = []
    for construct in CONSTRUCTS:
        w = _wide(scores, construct)
        stat = p = float("nan")
        if w.shape[1] >= 3 and len(w) >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = friedmanchisquare(*(w[c].to_numpy() for c in w.columns))
            stat, p = float(res.statistic), float(res.pvalue)
        rows.append(
            {
                "construct": construct,
                "n_participants": len(w),
                "k_types": w.shape[1],
                "chi2": stat,
                "p_value": p,
            }
        )
    return pd.DataFrame(rows)


def wilcoxon_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Pairwise two-sided Wilcoxon signed-rank tests per construct, Holm-adjusted p-values."""
    from scipy.stats import wilcoxon
    from statsmodels.stats.multitest import multipletests

    rows = []
    for construct in CONSTRUCTS:
        w = _wide(scores, construct)
        block = []
        for a, b in itertools.combinations(w.columns, 2):
            d = (w[a] - w[b]).to_numpy()
            stat = p = float("nan")
            if len(d) >= 1 and np.any(d != 0):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    res = wilcoxon(w[a], w[b], zero_method="wilcox", alternative="two-sided")
                stat, p = float(res.statistic), float(res.pvalue)
            block.append(
                {
                    "construct": construct,
                    "a": a,
                    "b": b,
                    "n_participants": len(d),
                    "mean_diff": float(d.mean()) if len(d) else float("nan"),
                    "statistic": stat,
                    "p_value": p,
                }
            )
        ps = np.array([r["p_value"] for r in block], float)
        ok = ~np.isnan(ps)
        holm = np.full(len(ps), np.nan)
        if ok.any():
            holm[ok] = multipletests(ps[ok], method="holm")[1]
        for r, h in zip(block, holm, strict=True):
            r["p_holm"] = float(h)
        rows += block
    cols = ["construct", "a", "b", "n_participants", "mean_diff", "statistic", "p_value", "p_holm"]
    return pd.DataFrame(rows, columns=cols)


def ordinal_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """Proportional-odds model per construct: log-odds of a higher rating by type vs reference.

    Model: ``value ~ C(type, ref=decomposed) + C(item)``, logit link, participant-clustered
    sandwich standard errors. A construct whose model cannot be fitted (one participant, one
    observed rating level, one type) gets a row with ``status`` saying why.
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rows = []
    for construct in CONSTRUCTS:
        d = ratings[ratings["construct"] == construct]
        types = _order(d["type"].unique())
        levels = sorted(d["value"].unique())
        why = None
        if d["participant"].nunique() < 2:
            why = "fewer than 2 participants"
        elif len(levels) < 2:
            why = "one rating level only"
        elif len(types) < 2:
            why = "one trace type only"
        if why:
            rows.append({"construct": construct, "term": None, "status": why})
            continue
        ref = "decomposed" if "decomposed" in types else types[0]
        t = pd.Categorical(d["type"], categories=[ref, *[x for x in types if x != ref]])
        exog = pd.get_dummies(t, prefix="type", drop_first=True).astype(float)
        items = pd.get_dummies(d["item"], prefix="item", drop_first=True).astype(float)
        exog = pd.concat([exog.set_index(d.index), items], axis=1)
        endog = pd.Series(pd.Categorical(d["value"], categories=levels, ordered=True), d.index)
        groups = pd.factorize(d["participant"])[0]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = OrderedModel(endog, exog, distr="logit").fit(
                    method="bfgs",
                    disp=False,
                    maxiter=500,
                    cov_type="cluster",
                    cov_kwds={"groups": groups},
                )
        except (ValueError, np.linalg.LinAlgError) as e:
            rows.append({"construct": construct, "term": None, "status": f"fit failed: {e}"})
            continue
        ci = res.conf_int()
        for term in [c for c in exog.columns if c.startswith("type_")]:
            rows.append(
                {
                    "construct": construct,
                    "term": f"{term.removeprefix('type_')} vs {ref}",
                    "log_odds": float(res.params[term]),
                    "odds_ratio": float(np.exp(res.params[term])),
                    "ci_low": float(np.exp(ci.loc[term, 0])),
                    "ci_high": float(np.exp(ci.loc[term, 1])),
                    "p_value": float(res.pvalues[term]),
                    "n_ratings": len(d),
                    "n_participants": int(d["participant"].nunique()),
                    "status": "ok" if res.mle_retvals.get("converged", True) else "not converged",
                }
            )
    return pd.DataFrame(rows)


def alpha_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """Cronbach's alpha per construct over participant x stimulus rows."""
    rows = []
    for construct in CONSTRUCTS:
        d = ratings[ratings["construct"] == construct]
        wide = d.pivot_table(index=["participant", "stimulus"], columns="item", values="value")
        rows.append(
            {
                "construct": construct,
                "k_items": wide.shape[1],
                "n_rows": len(wide),
                "alpha": cronbach_alpha(wide),
            }
        )
    return pd.DataFrame(rows)


def versus_reference(means: pd.DataFrame) -> pd.DataFrame:
    """Our per-type means beside the paper's (its three published numbers; NaN elsewhere)."""
    ref = reference_study()[["trace_type", "construct", "mean", "n_participants"]].rename(
        columns={"trace_type": "type", "mean": "paper_mean", "n_participants": "paper_n"}
    )
    ours = (
        means[["construct", "type", "mean", "ci_low", "ci_high", "n_participants"]]
        if len(means)
        else pd.DataFrame(
            columns=["construct", "type", "mean", "ci_low", "ci_high", "n_participants"]
        )
    )
    out = ours.rename(columns={"mean": "our_mean", "n_participants": "our_n"}).merge(
        ref, on=["construct", "type"], how="outer"
    )
    key = out["construct"].map({c: i for i, c in enumerate(CONSTRUCTS)}) * 10 + out["type"].map(
        {t: i for i, t in enumerate(TRACE_TYPES)}
    )
    return out.iloc[key.argsort(kind="stable")].reset_index(drop=True)


def analyze(
    responses: list[dict], *, max_failed: int = 0, n_boot: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Every table of the study analysis for validated ``responses`` (see module docstring)."""
    att = attention_table(responses)
    kept = set(att.loc[att["failed"] <= max_failed, "participant"])
    ratings = ratings_table([r for r in responses if r["participant"] in kept])
    scores = participant_scores(ratings)
    means = type_means(scores, n_boot=n_boot, seed=seed)
    exclusions = pd.DataFrame(
        [
            {
                "responses": len(att),
                "failed_attention": int((att["failed"] > max_failed).sum()),
                "kept": len(kept),
                "max_failed": max_failed,
            }
        ]
    )
    return {
        "exclusions": exclusions,
        "attention": att,
        "means": means,
        "friedman": friedman_table(scores),
        "wilcoxon": wilcoxon_table(scores),
        "ordinal": ordinal_table(ratings),
        "alpha": alpha_table(ratings),
        "versus_paper": versus_reference(means),
    }


def analyze_dir(
    responses_dir: str | Path,
    out: str | Path,
    *,
    stimuli: dict[str, Any] | None = None,
    max_failed: int = 0,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Read, validate and analyse ``responses_dir``; write one CSV per table into ``out``."""
    tables = analyze(
        read_responses(responses_dir, stimuli), max_failed=max_failed, n_boot=n_boot, seed=seed
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        runio.atomic_write_text(out / f"{name}.csv", df.to_csv(index=False))
    log.info("study analysis of %s written to %s", responses_dir, out)
    return tables
