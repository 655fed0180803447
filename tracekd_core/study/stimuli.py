"""Stimuli of the interpretability study: four trace types for sampled problems (paper 7).

A stimulus is one problem (question, context, gold answer) shown with one trace type:

* ``teacher_trace``, ``teacher_summary``, ``teacher_explanation``: the ``trace``, ``summary`` and
  ``explanation`` fields of the teacher pipeline's output (``teacher_pipeline.py``, written by
  ``tracekd teacher``), for problems the teacher answered correctly;
* ``decomposed``: the rule-based correct trace of the problem (``decompose.build_sft_examples``
  kind ``correct``), without its ``<think>`` tags.

With no teacher output, :func:`local_teacher_rows` runs the pipeline's prompts with a local model
of the student registry on the sampled problems, whether or not it answers them correctly (a
small model solves almost none): such stimuli pilot the instrument, they are not R1 traces. A
local model that gives no separate reasoning has its whole reply used as the trace.

``stimuli.json`` (written by ``study export``)::

    {"format": "tracekd-study-stimuli/1", "survey_id": str, "seed": int,
     "conditions": [type, ...], "source": str, "design": {...},
     "problems": [{"id", "dataset", "question", "context", "answer"}],
     "stimuli": [{"sid": "s00", "problem": id, "type": type, "text": str}]}

Stimulus ids are assigned after a seeded shuffle, so an id does not reveal its trace type.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .. import runio
from ..errors import ConfigError, EmptyInputError
from ..records import Problem, iter_jsonl
from ..seeding import derive_rng
from ..traces.decompose import answer_text, build_sft_examples
from ..traces.prompts import prompt_messages
from ..traces.stated import THINK_CLOSE, THINK_OPEN
from .design import TRACE_TYPES, design_dict

log = logging.getLogger(__name__)

STIMULI_FORMAT = "tracekd-study-stimuli/1"
#: Teacher-pipeline field holding each teacher trace type.
TEACHER_FIELDS: dict[str, str] = {
    "teacher_trace": "trace",
    "teacher_summary": "summary",
    "teacher_explanation": "explanation",
}


def check_conditions(conditions: Sequence[str]) -> list[str]:
    """Validate the trace types of a survey (known, unique, at least one).

    Raises
    ------
    ConfigError
        Unknown or repeated type.

    Examples
    --------
    >>> check_conditions(["decomposed", "teacher_trace"])
    ['decomposed', 'teacher_trace']
    """
    conditions = list(conditions)
    bad = [c for c in conditions if c not in TRACE_TYPES]
    if bad or not conditions or len(set(conditions)) != len(conditions):
        raise ConfigError(
            f"--conditions has bad value {conditions!r}; give distinct names among "
            f"{list(TRACE_TYPES)} (comma-separated)."
        )
    return conditions


def decomposed_texts(problems: Sequence[Problem]) -> dict[str, str]:
    """The decomposed correct trace of each problem as shown to participants (tags removed).

    Examples
    --------
    >>> p = Problem(id="b1", dataset="babi", split="test", question="Where is Mary?",
    ...             context=["Mary went to the hallway.", "John moved."], answers=["hallway"],
    ...             label="single-supporting-fact", support=[0])
    >>> decomposed_texts([p])["b1"].splitlines()[1]
    "I need to use the following text to answer the question: ['Mary went to the hallway.']"
    """
    out = {}
    for rec in build_sft_examples(list(problems), "correct"):
        trace = rec["messages"][-1]["content"][slice(*rec["spans"]["trace"])]
        out[rec["id"]] = trace.removeprefix(THINK_OPEN).removesuffix(THINK_CLOSE).strip()
    return out


def read_teacher_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """Teacher-pipeline rows by problem id (``path``: the JSONL file or a folder holding one).

    Raises
    ------
    EmptyInputError
        No ``*.jsonl`` file in the folder.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("teacher_traces*.jsonl")) or sorted(path.glob("*.jsonl"))
        if not files:
            raise EmptyInputError(
                f"{path}: no teacher_traces.jsonl here. Run `tracekd teacher --out "
                f"{path}/teacher_traces.jsonl` first, or omit --teacher to build stimuli offline."
            )
        path = files[0]
    return {row["id"]: row for _, row in iter_jsonl(path) if isinstance(row.get("id"), str)}


def usable_teacher_ids(rows: dict[str, dict[str, Any]], conditions: Sequence[str]) -> list[str]:
    """Ids of rows the teacher solved that carry every requested teacher text (sorted)."""
    fields = [TEACHER_FIELDS[c] for c in conditions if c in TEACHER_FIELDS]
    return sorted(
        pid
        for pid, row in rows.items()
        if row.get("correct", True) and all(isinstance(row.get(f), str) and row[f] for f in fields)
    )


def sample_problems(problems: Sequence[Problem], n: int, seed: int) -> list[Problem]:
    """``n`` problems drawn without replacement by ``derive_rng(seed, "study", "sample")``."""
    if n < 1:
        raise ConfigError(f"--n has bad value {n}; give a positive number of problems.")
    pool = sorted(problems, key=lambda p: p.id)
    if len(pool) < n:
        raise EmptyInputError(
            f"the study needs {n} problems but only {len(pool)} are eligible; lower --n "
            "(or give teacher output that solved more problems)."
        )
    return sorted(derive_rng(seed, "study", "sample").sample(pool, n), key=lambda p: p.id)


def local_teacher_rows(
    teacher: Any,
    problems: Sequence[Problem],
    cache_dir: str | Path,
    params: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Teacher trace, summary and explanation of every problem with a local teacher (cached).

    Uses the teacher pipeline's own prompts (``teacher_pipeline.SUMMARY_PROMPT`` and
    ``EXPLAIN_PROMPT``) through ``teacher.cached_chat``; correctness is not required (pilot
    stimuli, see the module docstring).
    """
    from ..teacher.backends import cached_chat
    from ..teacher.pipeline import EXPLAIN_PROMPT, SUMMARY_PROMPT

    params = params or {}
    rows: dict[str, dict[str, Any]] = {}
    for p in tqdm(problems, desc="study stimuli", disable=len(problems) < 10):
        r = cached_chat(teacher, prompt_messages(p), params, cache_dir)
        trace = (r.reasoning or r.content).strip() or "(empty reply)"
        msg = [{"role": "user", "content": SUMMARY_PROMPT.format(trace=trace)}]
        summary = cached_chat(teacher, msg, params, cache_dir).content.strip() or "(empty reply)"
        turn = [
            *prompt_messages(p),
            {"role": "assistant", "content": r.content},
            {"role": "user", "content": EXPLAIN_PROMPT},
        ]
        expl = cached_chat(teacher, turn, params, cache_dir).content.strip() or "(empty reply)"
        rows[p.id] = {"id": p.id, "trace": trace, "summary": summary, "explanation": expl}
    return rows


def build_stimuli(
    problems: Sequence[Problem],
    teacher_rows: dict[str, dict[str, Any]],
    conditions: Sequence[str],
    *,
    seed: int,
    source: str,
) -> dict[str, Any]:
    """The ``stimuli.json`` payload for ``problems`` (already sampled) and ``conditions``.

    Raises
    ------
    EmptyInputError
        A problem lacks a requested teacher text.
    """
    conditions = check_conditions(conditions)
    entries = []
    decomposed = decomposed_texts(problems) if "decomposed" in conditions else {}
    for p in problems:
        for c in conditions:
            if c == "decomposed":
                text = decomposed[p.id]
            else:
                text = (teacher_rows.get(p.id) or {}).get(TEACHER_FIELDS[c])
                if not isinstance(text, str) or not text.strip():
                    raise EmptyInputError(
                        f"problem {p.id}: no teacher {TEACHER_FIELDS[c]!r} for {c}; give "
                        "teacher output with that field for every sampled problem."
                    )
            entries.append({"problem": p.id, "type": c, "text": text.strip()})
    derive_rng(seed, "study", "sids").shuffle(entries)
    width = max(2, len(str(len(entries) - 1)))
    stimuli = [{"sid": f"s{i:0{width}d}", **e} for i, e in enumerate(entries)]
    stimuli.sort(key=lambda s: s["sid"])
    shown = [
        {
            "id": p.id,
            "dataset": p.dataset,
            "question": p.question,
            "context": list(p.context),
            "answer": answer_text(p),
        }
        for p in problems
    ]
    payload = {
        "format": STIMULI_FORMAT,
        "seed": seed,
        "conditions": conditions,
        "source": source,
        "design": design_dict(),
        "problems": shown,
        "stimuli": stimuli,
    }
    payload["survey_id"] = runio.stable_hash(payload, n=16)
    return payload


def read_stimuli(path: str | Path) -> dict[str, Any]:
    """Load ``stimuli.json`` (a folder holding one, or the file).

    Raises
    ------
    EmptyInputError
        The file does not exist.
    ConfigError
        It is not a tracekd stimuli file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "stimuli.json"
    if not path.exists():
        raise EmptyInputError(
            f"{path}: no stimuli file. Export the survey with `tracekd study export --out DIR`."
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != STIMULI_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"{path}: field 'format' has bad value {got!r}; expected {STIMULI_FORMAT!r} "
            "(re-export with `tracekd study export`)."
        )
    return data


def make_stimuli(
    problems: Sequence[Problem],
    conditions: Sequence[str],
    *,
    n: int,
    seed: int,
    cache_dir: str | Path,
    teacher_output: str | Path | None = None,
    local_teacher: str = "smollm2-135m",
    teacher: Any = None,
    max_new_tokens: int = 96,
) -> dict[str, Any]:
    """Sample ``n`` problems and build their stimuli (``stimuli.json`` payload).

    With ``teacher_output`` (the teacher pipeline's JSONL or its folder) only problems the
    teacher solved and that carry every requested text are eligible. Without it, teacher types
    are generated by ``local_teacher`` (or an already built ``teacher`` object) on the sampled
    problems, cached in ``cache_dir``.
    """
    conditions = check_conditions(conditions)
    needs_teacher = any(c in TEACHER_FIELDS for c in conditions)
    if teacher_output is not None:
        rows = read_teacher_rows(teacher_output)
        ok = set(usable_teacher_ids(rows, conditions))
        chosen = sample_problems([p for p in problems if p.id in ok], n, seed)
        source = f"teacher pipeline output {Path(teacher_output).name}"
    elif needs_teacher:
        chosen = sample_problems(problems, n, seed)
        if teacher is None:
            from ..teacher.backends import LocalTeacher

            teacher = LocalTeacher(local_teacher)
        rows = local_teacher_rows(teacher, chosen, cache_dir, {"max_new_tokens": max_new_tokens})
        source = f"local teacher {teacher.model} (pilot stimuli: answers not checked)"
    else:
        rows, chosen = {}, sample_problems(problems, n, seed)
        source = "decomposed traces only"
    return build_stimuli(chosen, rows, conditions, seed=seed, source=source)


def study_dir(profile: Any, root: str | Path = ".") -> Path:
    """The profile's study folder (``study.dir`` or ``<runs_root>/<profile>/study``)."""
    root = Path(root)
    if profile.study.dir:
        d = Path(profile.study.dir)
        return d if d.is_absolute() else root / d
    return root / profile.runs_root / profile.name / "study"


def profile_stimuli(profile: Any, root: str | Path = ".") -> dict[str, Any]:
    """The stimuli of the profile's study folder; exported there first if it has none.

    An existing ``stimuli.json`` is never rebuilt (responses refer to it): delete the folder to
    re-export after changing the ``study`` section of the profile.
    """
    from ..config import profile_students
    from ..experiment.grid import data_dir
    from ..records import read_problems
    from .survey import export_survey

    d = study_dir(profile, root)
    if (d / "stimuli.json").exists():
        return read_stimuli(d)
    cfg = profile.study
    problems = [
        p
        for dc in profile.datasets
        for p in read_problems(data_dir(Path(root), dc, profile.data_seed) / "problems.jsonl")
        if p.split == "test"
    ]
    teacher_output = None
    if cfg.teacher_traces:
        teacher_output = Path(cfg.teacher_traces)
        teacher_output = (
            teacher_output if teacher_output.is_absolute() else Path(root) / teacher_output
        )
    stimuli = make_stimuli(
        problems,
        cfg.conditions,
        n=cfg.n_problems,
        seed=cfg.seed,
        cache_dir=d / "cache",
        teacher_output=teacher_output,
        local_teacher=cfg.teacher or profile_students(profile)[0],
        max_new_tokens=cfg.max_new_tokens,
    )
    export_survey(stimuli, d)
    return stimuli


def examples_table(stimuli: dict[str, Any], problem: str | None = None) -> pd.DataFrame:
    """The stimuli of one problem (default: the first), one row per trace type, for the book."""
    from .design import TYPE_TITLES

    pid = problem or stimuli["problems"][0]["id"]
    rows = [s for s in stimuli["stimuli"] if s["problem"] == pid]
    rows.sort(key=lambda s: TRACE_TYPES.index(s["type"]))
    return pd.DataFrame(
        {"type": [TYPE_TITLES[s["type"]] for s in rows], "text": [s["text"] for s in rows]}
    )
