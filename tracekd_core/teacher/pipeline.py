"""The teacher-trace pipeline of the reference (paper section 4; flaws in 4.7 and 10).

1. The teacher answers every problem (reasoning trace + answer).
2. Only the problems it answered correctly, scored with *our* scorer, are kept.
3. A summarizer writes a summary (under 100 words) of each kept trace (of the reply itself when
   the teacher has no separate reasoning channel).
4. The teacher gives a post-hoc explanation of its answer in a follow-up turn.

Every call goes through ``teacher.cached_chat``, so a re-run resumes where it stopped. The output
rows (``teacher_traces.jsonl``) are keyed by problem id, so SFT conditions built from them pair
each problem with its own messages (the reference paired problems with other problems' traces).

Row format::

    {"id": str, "trace": str|null, "answer": str, "correct": bool,
     "summary": str|null, "explanation": str|null}
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import RecordError
from ..evaluation.score import score_items
from ..records import Problem
from ..traces.prompts import prompt_messages
from .backends import cached_chat

log = logging.getLogger(__name__)

SUMMARY_PROMPT = (
    "Summarize the following reasoning in under 100 words, keeping the steps that lead to the "
    "answer:\n\n{trace}"
)
EXPLAIN_PROMPT = "Explain briefly, step by step, why your answer is correct."


def teacher_answers(
    teacher: Any, problems: list[Problem], cache_dir: str | Path, params: dict | None = None
) -> list[dict]:
    """Step 1-2: the teacher answers each problem; ``correct`` is our strict answer score."""
    params = params or {}
    rows, preds = [], {}
    for p in tqdm(problems, desc="teacher answers", disable=len(problems) < 20):
        r = cached_chat(teacher, prompt_messages(p), params, cache_dir)
        rows.append({"id": p.id, "trace": r.reasoning, "answer": r.content})
        preds[p.id] = {"id": p.id, "output": r.content}
    items = score_items(problems, preds)
    for row, item in zip(rows, items, strict=True):
        row["correct"] = bool(item["answer_correct"])
    return rows


def add_summaries_and_explanations(
    rows: list[dict],
    problems: list[Problem],
    teacher: Any,
    summarizer: Any,
    cache_dir: str | Path,
    params: dict | None = None,
) -> list[dict]:
    """Steps 3-4 on the teacher-solved rows; unsolved rows get ``None`` for both."""
    params = params or {}
    by_id = {p.id: p for p in problems}
    for row in tqdm(rows, desc="summaries + explanations", disable=len(rows) < 20):
        row["summary"] = row["explanation"] = None
        if not row["correct"]:
            continue
        # A teacher without a reasoning channel (a local model writing no <think>) reasons in
        # its reply, so that reply is what gets summarized (teacher_sft.teacher_text agrees).
        trace = row["trace"] or row["answer"]
        if trace:
            msg = [{"role": "user", "content": SUMMARY_PROMPT.format(trace=trace)}]
            row["summary"] = cached_chat(summarizer, msg, params, cache_dir).content
        turn = [
            *prompt_messages(by_id[row["id"]]),
            {"role": "assistant", "content": row["answer"]},
            {"role": "user", "content": EXPLAIN_PROMPT},
        ]
        row["explanation"] = cached_chat(teacher, turn, params, cache_dir).content
    return rows


def imported_answers(
    problems: list[Problem],
    path: str | Path,
    *,
    id_col: str = "id",
    trace_col: str = "trace",
    answer_col: str | None = "answer",
) -> list[dict]:
    """Steps 1-2 from an existing trace file instead of a live teacher (paper section 4).

    Rows are the problems of ``problems`` that the file names (CSV or JSON lines, read by
    :func:`import_traces`). With ``answer_col`` the file's answers are scored with our strict
    scorer (``correct``), exactly like a live teacher's; with ``answer_col=None`` every imported
    trace is taken as solved (``answer`` = the gold answer text) -- say so when you report it.

    Raises
    ------
    RecordError
        A missing id/trace/answer column or a duplicate id (file, line, column, fix).
    EmptyInputError
        The file names none of the problems.
    """
    from ..errors import EmptyInputError
    from ..traces.decompose import answer_text

    traces = import_traces(path, id_col=id_col, trace_col=trace_col)
    answers = (
        import_traces(path, id_col=id_col, trace_col=answer_col) if answer_col is not None else {}
    )
    chosen = [p for p in problems if p.id in traces]
    if not chosen:
        raise EmptyInputError(
            f"{path}: none of its {len(traces)} ids is among the {len(problems)} problems given "
            "(first ids: " + ", ".join(sorted(traces)[:3]) + "). Import traces of these problems, "
            "or pass the problems file they were written for."
        )
    rows = [
        {
            "id": p.id,
            "trace": traces[p.id],
            "answer": answers[p.id] if answer_col is not None else answer_text(p),
        }
        for p in chosen
    ]
    if answer_col is None:
        for row in rows:
            row["correct"] = True
        return rows
    items = score_items(chosen, {r["id"]: {"id": r["id"], "output": r["answer"]} for r in rows})
    for row, item in zip(rows, items, strict=True):
        row["correct"] = bool(item["answer_correct"])
    return rows


def run_pipeline(
    teacher: Any,
    problems: list[Problem],
    cache_dir: str | Path,
    *,
    summarizer: Any = None,
    params: dict | None = None,
    imported: dict | None = None,
) -> list[dict]:
    """The whole pipeline; the summarizer defaults to the teacher itself.

    ``imported`` (keyword arguments of :func:`imported_answers`, at least ``path``) takes steps
    1-2 from an existing trace file; ``teacher`` then writes only the post-hoc explanations.
    """
    if imported is not None:
        rows = imported_answers(problems, **imported)
        problems = [p for p in problems if p.id in {r["id"] for r in rows}]
    else:
        rows = teacher_answers(teacher, problems, cache_dir, params)
    n_ok = sum(r["correct"] for r in rows)
    log.info("teacher solved %d/%d problems", n_ok, len(rows))
    return add_summaries_and_explanations(
        rows, problems, teacher, summarizer or teacher, cache_dir, params
    )


def import_traces(path: str | Path, *, id_col: str = "id", trace_col: str = "trace") -> dict:
    """Read an existing trace file (CSV or JSON lines) as ``{problem id: trace}``.

    Raises
    ------
    RecordError
        A row without the id or trace column, or a duplicate id (names file, line and column).
    """
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as f:
        if path.suffix.lower() == ".csv":
            rows = list(enumerate(csv.DictReader(f), start=2))
        else:
            rows = [(i, json.loads(s)) for i, s in enumerate(f, start=1) if s.strip()]
    out: dict[str, str] = {}
    for line, row in rows:
        for col in (id_col, trace_col):
            if not isinstance(row.get(col), str) or not row[col]:
                raise RecordError(
                    file=str(path),
                    line=line,
                    field=col,
                    value=row.get(col),
                    fix=f"Every row needs non-empty {id_col!r} and {trace_col!r} columns "
                    "(rename them with id_col/trace_col).",
                )
        if row[id_col] in out:
            raise RecordError(
                file=str(path),
                line=line,
                field=id_col,
                value=row[id_col],
                fix="Ids must be unique.",
            )
        out[row[id_col]] = row[trace_col]
    return out
