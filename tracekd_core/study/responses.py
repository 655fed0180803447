"""Study responses: the per-participant record, its validation and the tidy tables (paper 7).

One response is one JSON object (one line of ``responses/*.jsonl``)::

    {"format": "tracekd-study-response/1", "survey_id": str, "seed": int,
     "participant": str, "order": [sid, ...],
     "ratings": [{"stimulus": sid, "type": str, "problem": str, "item": "I1", "value": 1-5,
                  "position": int}, ...],
     "attention": [{"check": "A1", "expected": 2, "value": int, "position": int}, ...],
     "started": str, "submitted": str, "user_agent": str}

:func:`validate_response` is shared by ``study serve`` (which rejects a bad body with HTTP 400)
and ``study analyze``; every problem raises ``StudyResponseError`` naming the file, line, field,
bad value and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import EmptyInputError, StudyResponseError
from ..records import iter_jsonl
from .design import ANCHORS, ATTENTION_CHECKS, ITEMS, stimulus_order

RESPONSE_FORMAT = "tracekd-study-response/1"
PARTICIPANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ITEMS = {i.id: i for i in ITEMS}
_CHECKS = {a.id: a for a in ATTENTION_CHECKS}


def _likert(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v in ANCHORS


def validate_response(
    obj: Any,
    stimuli: dict[str, Any] | None = None,
    *,
    file: str | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    """Check one response; with ``stimuli``, also that it answers exactly that survey.

    Raises
    ------
    StudyResponseError
        Names file, line, field and value, and says how to fix it.

    Examples
    --------
    >>> validate_response({"format": "x"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracekd_core.errors.StudyResponseError: <memory>: field 'format' has bad value 'x'. ...
    """

    def bad(fld: str, value: object, fix: str) -> StudyResponseError:
        return StudyResponseError(file=file, line=line, field=fld, value=value, fix=fix)

    if not isinstance(obj, dict):
        raise bad("<root>", type(obj).__name__, "A response is one JSON object per line.")
    if obj.get("format") != RESPONSE_FORMAT:
        raise bad("format", obj.get("format"), f"Expected {RESPONSE_FORMAT!r} (survey.html).")
    for fld in ("survey_id", "participant"):
        if not isinstance(obj.get(fld), str) or not obj[fld]:
            raise bad(fld, obj.get(fld), "Give a non-empty string.")
    if not PARTICIPANT_RE.match(obj["participant"]):
        raise bad("participant", obj["participant"], "Use 1-64 letters, digits, '-', '_', '.'.")
    if not isinstance(obj.get("seed"), int) or isinstance(obj.get("seed"), bool):
        raise bad("seed", obj.get("seed"), "The survey seed is an integer (stimuli.json).")
    for fld in ("order", "ratings", "attention"):
        if not isinstance(obj.get(fld), list):
            raise bad(fld, obj.get(fld), "Give a JSON list.")
    for k, r in enumerate(obj["ratings"]):
        if not isinstance(r, dict):
            raise bad(f"ratings[{k}]", r, "Each rating is an object.")
        for fld in ("stimulus", "type", "problem"):
            if not isinstance(r.get(fld), str):
                raise bad(f"ratings[{k}].{fld}", r.get(fld), "Give a string.")
        if not isinstance(r.get("item"), str) or r["item"] not in _ITEMS:
            raise bad(f"ratings[{k}].item", r.get("item"), f"Known items: {sorted(_ITEMS)}.")
        if not _likert(r.get("value")):
            raise bad(f"ratings[{k}].value", r.get("value"), "Likert values are 1, 2, 3, 4 or 5.")
    for k, a in enumerate(obj["attention"]):
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("check"), str)
            or a["check"] not in _CHECKS
        ):
            got = a.get("check") if isinstance(a, dict) else a
            raise bad(f"attention[{k}].check", got, f"Known checks: {sorted(_CHECKS)}.")
        if not _likert(a.get("value")):
            raise bad(f"attention[{k}].value", a.get("value"), "Likert values are 1-5.")
    if stimuli is not None:
        _check_against_survey(obj, stimuli, bad)
    return obj


def _check_against_survey(obj: dict[str, Any], stimuli: dict[str, Any], bad) -> None:
    if obj["survey_id"] != stimuli["survey_id"]:
        raise bad(
            "survey_id",
            obj["survey_id"],
            f"This response answers another survey (this one is {stimuli['survey_id']!r}); "
            "analyze it with that survey's stimuli.json.",
        )
    by_sid = {s["sid"]: s for s in stimuli["stimuli"]}
    expected = stimulus_order(list(by_sid), seed=stimuli["seed"], participant=obj["participant"])
    if obj["order"] != expected:
        raise bad("order", obj["order"][:5], "The order differs from the seeded design; re-export.")
    seen = set()
    for k, r in enumerate(obj["ratings"]):
        s = by_sid.get(r["stimulus"])
        if s is None or s["type"] != r["type"] or s["problem"] != r["problem"]:
            raise bad(f"ratings[{k}]", r, "Stimulus, type and problem must match stimuli.json.")
        key = (r["stimulus"], r["item"])
        if key in seen:
            raise bad(f"ratings[{k}]", r, "Each stimulus x item is rated once.")
        seen.add(key)
    missing = len(by_sid) * len(ITEMS) - len(seen)
    if missing:
        raise bad("ratings", f"{len(seen)} ratings", f"{missing} ratings missing: answer all.")
    checks = sorted(a["check"] for a in obj["attention"])
    if checks != sorted(_CHECKS):
        raise bad("attention", checks, f"Expected one answer to each of {sorted(_CHECKS)}.")


def read_responses(path: str | Path, stimuli: dict[str, Any] | None = None) -> list[dict]:
    """Every response in ``path`` (a ``.jsonl`` file or a folder of them), validated.

    Raises
    ------
    EmptyInputError
        No ``.jsonl`` file.
    StudyResponseError
        A bad line, or a participant answering twice (names both files).
    """
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or not all(f.exists() for f in files):
        raise EmptyInputError(
            f"{path}: no response file (*.jsonl). Collect answers with `tracekd study serve` "
            "or put the downloaded tracekd-response-*.jsonl files there."
        )
    out, where = [], {}
    for f in files:
        for line, obj in iter_jsonl(f):
            r = validate_response(obj, stimuli, file=str(f), line=line)
            if r["participant"] in where:
                raise StudyResponseError(
                    file=str(f),
                    line=line,
                    field="participant",
                    value=r["participant"],
                    fix=f"Already answered in {where[r['participant']]}; keep one response "
                    "per participant (delete the other).",
                )
            where[r["participant"]] = f"{f}:{line}"
            out.append(r)
    return out


def attention_table(responses: list[dict]) -> pd.DataFrame:
    """One row per participant: checks answered, failed, and whether the participant is kept."""
    rows = []
    for r in responses:
        failed = sum(a["value"] != _CHECKS[a["check"]].expected for a in r["attention"])
        rows.append(
            {"participant": r["participant"], "checks": len(r["attention"]), "failed": failed}
        )
    return pd.DataFrame(rows, columns=["participant", "checks", "failed"])


def ratings_table(responses: list[dict]) -> pd.DataFrame:
    """Tidy item-level ratings: participant, stimulus, type, problem, item, construct, value."""
    rows = [
        {
            "participant": r["participant"],
            "stimulus": x["stimulus"],
            "type": x["type"],
            "problem": x["problem"],
            "item": x["item"],
            "construct": _ITEMS[x["item"]].construct,
            "value": int(x["value"]),
        }
        for r in responses
        for x in r["ratings"]
    ]
    cols = ["participant", "stimulus", "type", "problem", "item", "construct", "value"]
    return pd.DataFrame(rows, columns=cols)
