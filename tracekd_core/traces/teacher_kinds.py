"""SFT kinds built from teacher output, and the teacher-solved subset (paper section 4.5-4.7).

Three SFT kinds train on what the teacher wrote, always inside the format the parser reads::

    <think>{teacher trace | summary | post-hoc explanation}</think> <answer>{gold answer}</answer>

=================== =========================================================================
kind                text inside ``<think>``
=================== =========================================================================
teacher_trace       the teacher's reasoning (``reasoning_content``; a teacher without a
                    separate reasoning channel gives its whole reply instead)
teacher_summary     the summarizer's summary of that trace (under 100 words)
teacher_explanation the teacher's post-hoc explanation (follow-up turn)
=================== =========================================================================

The answer is always the gold answer written as in every other target (``decompose.answer_text``),
not the teacher's verbose answer text (the reference's choice, PAPER_NOTES 4.5), so the teacher
conditions differ from the decomposed-trace controls only inside ``<think>``. Every record is
built from the pipeline row **of its own problem id**: the reference looked messages up by an
answer substring and trained problems on other problems' messages (PAPER_NOTES 4.7).

The *teacher-solved subset* are the problems the teacher answered correctly and for which every
teacher text is non-empty; all seven teacher conditions (the three kinds above and the controls
``none``, ``correct``, ``incorrect``, ``swap``) are built on exactly these ids (``select_by_ids``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RecordError
from ..records import Problem, iter_jsonl
from ..registry import SFT_KINDS
from .decompose import THINK_ANSWER_SEP, SftKind, answer_text
from .prompts import prompt_messages
from .sft import validate_sft
from .stated import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

log = logging.getLogger(__name__)

#: SFT kind -> the pipeline row field its ``<think>`` text comes from.
TEACHER_FIELDS: dict[str, str] = {
    "teacher_trace": "trace",
    "teacher_summary": "summary",
    "teacher_explanation": "explanation",
}
ROW_KEYS = ("id", "trace", "answer", "correct", "summary", "explanation")
_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def _not_by_template(problems, corruption, seed):
    raise ConfigError(
        "teacher SFT kinds are built from the teacher pipeline's rows, not from a trace "
        "template: call teacher_sft.build_teacher_sft(problems, rows, kind) (the grid's "
        "teacher stage does), not decompose.build_sft_examples."
    )


for _kind in TEACHER_FIELDS:
    SFT_KINDS.add(_kind, SftKind(_kind, False, False, False, _not_by_template))


def clean_text(text: str | None) -> str:
    r"""Teacher text without the format's tags (a stray ``</think>`` would end the trace early).

    Line breaks are kept (a reasoning trace's paragraphs); runs of spaces are collapsed.

    Examples
    --------
    >>> clean_text("  a <answer>b</answer> </think>\n c ")
    'a b\nc'
    >>> clean_text(None)
    ''
    """
    if not text:
        return ""
    for tag in _TAGS:
        text = text.replace(tag, " ")
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


def teacher_text(row: Mapping[str, Any], kind: str) -> str:
    """The cleaned ``<think>`` text of ``row`` for ``kind`` ('' when the teacher gave none).

    ``teacher_trace`` falls back to the teacher's reply content when the backend has no separate
    reasoning channel (a local model that writes no ``<think>`` block).

    Examples
    --------
    >>> row = {"trace": None, "answer": "It is B.", "summary": "s", "explanation": ""}
    >>> teacher_text(row, "teacher_trace"), teacher_text(row, "teacher_explanation")
    ('It is B.', '')
    """
    if kind not in TEACHER_FIELDS:
        raise ConfigError(f"kind {kind!r} is not a teacher SFT kind; use one of {TEACHER_FIELDS}.")
    text = clean_text(row.get(TEACHER_FIELDS[kind]))
    if not text and kind == "teacher_trace":
        text = clean_text(row.get("answer"))
    return text


def read_teacher_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a pipeline output (``teacher_traces.jsonl``) as ``{problem id: row}``, validated.

    Raises
    ------
    RecordError
        A missing or mistyped field or a duplicate id (names file, line, field, value and fix).
    """
    out: dict[str, dict[str, Any]] = {}
    for line, row in iter_jsonl(path):
        for key in ROW_KEYS:
            v = row.get(key)
            ok = isinstance(v, bool) if key == "correct" else (v is None or isinstance(v, str))
            if key not in row or not ok or (key == "id" and not v):
                raise RecordError(
                    file=str(path),
                    line=line,
                    field=key,
                    value=v,
                    fix=f"Each row needs {ROW_KEYS} ('correct' a bool, the others strings or "
                    "null); write it with `tracekd teacher --out`.",
                )
        if row["id"] in out:
            raise RecordError(
                file=str(path), line=line, field="id", value=row["id"], fix="Ids must be unique."
            )
        out[row["id"]] = row
    return out


def solved_ids(
    rows: Iterable[Mapping[str, Any]], kinds: Iterable[str] = TEACHER_FIELDS
) -> set[str]:
    """Ids the teacher solved and for which every text of ``kinds`` is non-empty.

    Examples
    --------
    >>> rows = [{"id": "a", "correct": True, "trace": "t", "answer": "x", "summary": "s",
    ...          "explanation": "e"},
    ...         {"id": "b", "correct": True, "trace": "t", "answer": "x", "summary": None,
    ...          "explanation": "e"},
    ...         {"id": "c", "correct": False, "trace": "t", "answer": "x", "summary": "s",
    ...          "explanation": "e"}]
    >>> sorted(solved_ids(rows)), sorted(solved_ids(rows, ["teacher_trace"]))
    (['a'], ['a', 'b'])
    """
    kinds = list(kinds)
    return {r["id"] for r in rows if r["correct"] and all(teacher_text(r, k) for k in kinds)}


def select_by_ids(problems: Sequence[Problem], ids: Iterable[str]) -> list[Problem]:
    """The problems whose id is in ``ids``, in their original order (every condition uses this).

    Raises
    ------
    RecordError
        An id of ``ids`` that is not among ``problems`` (a row of another problem set).

    Examples
    --------
    >>> ps = [Problem(id=i, dataset="babi", split="train", question="Q?", context=["c"],
    ...               answers=["a"], label="single-supporting-fact", support=[0])
    ...       for i in ("p1", "p2", "p3")]
    >>> [p.id for p in select_by_ids(ps, {"p3", "p1"})]
    ['p1', 'p3']
    """
    ids = set(ids)
    missing = ids - {p.id for p in problems}
    if missing:
        raise RecordError(
            file=None,
            line=None,
            field="id",
            value=sorted(missing)[:5],
            fix="These teacher rows name problems that are not in the problem set; run the "
            "teacher on the same problems.jsonl.",
        )
    return [p for p in problems if p.id in ids]


def teacher_record(problem: Problem, text: str, kind: str, *, system: str = "neutral") -> dict:
    """One validated SFT record: ``<think>{text}</think> <answer>{gold}</answer>``.

    Examples
    --------
    >>> p = Problem(id="b1", dataset="babi", split="train", question="Where is Mary?",
    ...             context=["Mary went to the hallway."], answers=["hallway"],
    ...             label="single-supporting-fact", support=[0])
    >>> r = teacher_record(p, "Mary went to the hallway, so: hallway.", "teacher_trace")
    >>> r["messages"][2]["content"]
    '<think>Mary went to the hallway, so: hallway.</think> <answer>hallway</answer>'
    """
    think = f"{THINK_OPEN}{text}{THINK_CLOSE}"
    start = len(think) + len(THINK_ANSWER_SEP)
    content = f"{think}{THINK_ANSWER_SEP}{ANSWER_OPEN}{answer_text(problem)}{ANSWER_CLOSE}"
    record = {
        "id": problem.id,
        "kind": kind,
        "corruption": None,
        "messages": [
            *prompt_messages(problem, system=system),
            {"role": "assistant", "content": content},
        ],
        "spans": {"trace": [0, len(think)], "answer": [start, len(content)]},
        "trace": {"label": None, "support": None, "support_text": None, "swapped_from": None},
    }
    return validate_sft(record, problem=problem)


def build_teacher_sft(
    problems: Sequence[Problem],
    rows: Mapping[str, Mapping[str, Any]],
    kind: str,
    *,
    system: str = "neutral",
) -> list[dict[str, Any]]:
    """SFT records of teacher kind ``kind`` for ``problems``, each from ``rows[problem.id]``.

    Parameters
    ----------
    problems : sequence of Problem
        The teacher-solved training problems (``select_by_ids``).
    rows : mapping of str to dict
        Pipeline rows keyed by problem id (``read_teacher_rows``).
    kind : str
        ``teacher_trace``, ``teacher_summary`` or ``teacher_explanation``.

    Raises
    ------
    RecordError
        A problem without a row, or whose row was not solved or has no text for ``kind``.
    """
    out = []
    for p in problems:
        row = rows.get(p.id)
        text = teacher_text(row, kind) if row else ""
        if row is None or row["id"] != p.id or not row["correct"] or not text:
            raise RecordError(
                file=None,
                line=None,
                field=f"rows[{p.id!r}]",
                value=None if row is None else {k: row.get(k) for k in ("id", "correct")},
                fix=f"Build {kind!r} only on the teacher-solved subset (teacher_sft.solved_ids).",
            )
        out.append(teacher_record(p, text, kind, system=system))
    log.info("built %d SFT examples (kind=%s)", len(out), kind)
    return out
