"""The grid's teacher stage: teacher pipeline -> teacher-solved subset -> seven SFT conditions.

Paper section 4 (PAPER_NOTES 4, 8.3), with the flaws of 4.7 and 10.6-10.8 fixed:

1. the teacher (``teacher.backend``: local model, OpenAI-compatible endpoint, or a rows file
   from ``tracekd teacher``) answers the first ``n_problems`` train problems and, for the
   ``teacher_solved`` evaluation subset, the first ``n_test`` test problems; our strict scorer
   decides what it solved;
2. the teacher-solved train problems (every teacher text non-empty) are the training set of all
   seven conditions (``teacher_sft.select_by_ids``): the teacher kinds are built from each
   problem's own row, the controls are the existing kinds restricted to the same ids;
3. every condition x seed is trained with ``train.train`` and generated/scored with
   ``grid.generate_and_score`` on **one common test subset** (``problems.jsonl`` of the stage
   folder holds exactly the subset: train part for SFT, test part for evaluation).

The stage folder ``runs/<profile>/teacher/<dataset>-<hash>/`` (hash of the teacher config, the
problems, the rows file and the code) holds ``train_rows.jsonl``, ``test_rows.jsonl``,
``problems.jsonl``, ``sft-<condition>.jsonl``, ``summary.json`` and a ``DONE`` marker; the call
cache ``runs/<profile>/teacher/cache`` is shared, so a changed config repeats no teacher call.
An empty subset (a weak teacher solved nothing) is a status with a message, never a crash.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .. import runio
from ..config import ProfileConfig, TeacherConfig, dump, profile_students
from ..errors import RecordError, TraceFormatError, TracekdError
from ..records import Problem
from .conditions import get_condition

log = logging.getLogger(__name__)

#: Fields of the teacher config that change what the stage folder holds (not seeds/conditions
#: of training, which have their own run folders).
_STAGE_FIELDS = (
    "backend",
    "model",
    "base_url",
    "traces_file",
    "n_problems",
    "n_test",
    "eval_subset",
    "max_new_tokens",
    "conditions",
)


def make_teacher(tc: TeacherConfig) -> Any:
    """The backend of ``tc`` (``HttpTeacher`` or ``LocalTeacher``; not for ``file``)."""
    from ..teacher.backends import HttpTeacher, LocalTeacher

    if tc.backend == "http":
        return HttpTeacher(
            tc.base_url,
            tc.model,
            api_key_env=tc.api_key_env,
            max_retries=tc.max_retries,
            min_interval=tc.min_interval,
        )
    return LocalTeacher(tc.model)


def teacher_rows(
    tc: TeacherConfig, train: list[Problem], test: list[Problem], cache_dir: Path
) -> tuple[list[dict], list[dict]]:
    """Pipeline rows of the train problems and answer rows of the test problems.

    The ``file`` backend reads the rows of these problems from ``tc.traces_file`` (missing ids
    count as unsolved) and re-scores ``correct`` with our scorer, like the live backends.
    """
    from ..evaluation.score import score_items
    from ..teacher.pipeline import run_pipeline, teacher_answers
    from ..traces.teacher_kinds import read_teacher_rows

    want_test = tc.eval_subset == "teacher_solved"
    if tc.backend == "file":
        rows = read_teacher_rows(tc.traces_file)
        out = []
        for part in (train, test if want_test else []):
            got = [p for p in part if p.id in rows]
            items = score_items(
                got, {p.id: {"id": p.id, "output": rows[p.id]["answer"]} for p in got}
            )
            out.append(
                [
                    {**rows[p.id], "correct": bool(it["answer_correct"])}
                    for p, it in zip(got, items, strict=True)
                ]
            )
        return out[0], out[1] if want_test else []
    teacher = make_teacher(tc)
    params = {"max_new_tokens": tc.max_new_tokens} if tc.backend == "local" else {}
    rows_train = run_pipeline(teacher, train, cache_dir, params=params) if train else []
    rows_test = teacher_answers(teacher, test, cache_dir, params) if want_test and test else []
    return rows_train, rows_test


def build_condition_sft(
    cond_name: str, problems: list[Problem], rows: dict[str, dict], profile: ProfileConfig
) -> list[dict]:
    """SFT records of one teacher condition on the (already selected) subset ``problems``."""
    from ..traces.decompose import build_sft_examples
    from ..traces.teacher_kinds import TEACHER_FIELDS, build_teacher_sft

    cond = get_condition(cond_name)
    if cond.kind in TEACHER_FIELDS:
        return build_teacher_sft(problems, rows, cond.kind)
    corruption = cond.corruption or profile.trace.corruption if cond.kind == "incorrect" else None
    return build_sft_examples(
        problems,
        cond.kind,
        corruption=corruption,
        template=profile.trace.template,
        seed=profile.data_seed,
    )


def _empty_part(train: list, test: list) -> str:
    return (
        "train and test parts"
        if not train and not test
        else ("train part" if not train else "test part")
    )


def _trace_words(record: dict) -> int:
    span = record["spans"]["trace"]
    if span is None:
        return 0
    return len(record["messages"][2]["content"][span[0] : span[1]].split())


def prepare_stage(profile: ProfileConfig, runs: Path, dataset: str, problems_path: Path) -> Path:
    """Run the teacher and build the subset and SFT files once; return the stage folder."""
    from ..records import read_problems, write_jsonl, write_problems
    from ..traces.teacher_kinds import TEACHER_FIELDS, select_by_ids, solved_ids

    tc = profile.teacher
    data = {"problems": runio.file_sha256(problems_path)}
    if tc.backend == "file":
        data["traces_file"] = runio.file_sha256(tc.traces_file)
    config = {k: v for k, v in dump(tc).items() if k in _STAGE_FIELDS}
    config |= {"trace": dump(profile.trace), "data_seed": profile.data_seed}
    key = runio.run_key(config, data, runio.stage_fingerprint("teacher"))
    d = runs / "teacher" / f"{dataset}-{key}"
    with runio.locked(d):
        if runio.is_done(d):
            return d
        problems = read_problems(problems_path)
        train = [p for p in problems if p.split == "train"][: tc.n_problems]
        test = [p for p in problems if p.split == "test"][: tc.n_test]
        rows_train, rows_test = teacher_rows(tc, train, test, runs / "teacher" / "cache")
        write_jsonl(d / "train_rows.jsonl", rows_train)
        write_jsonl(d / "test_rows.jsonl", rows_test)
        kinds = [get_condition(c).kind for c in tc.conditions]
        train_ids = solved_ids(rows_train, [k for k in kinds if k in TEACHER_FIELDS])
        if tc.eval_subset == "teacher_solved":
            test_ids = {r["id"] for r in rows_test if r["correct"]}
        else:
            test_ids = {p.id for p in test}
        sub_train, sub_test = select_by_ids(train, train_ids), select_by_ids(test, test_ids)
        write_problems(d / "problems.jsonl", [*sub_train, *sub_test])
        summary: dict[str, Any] = {
            "dataset": dataset,
            "teacher": f"file:{Path(tc.traces_file).name}"
            if tc.backend == "file"
            else f"{tc.backend}:{tc.model}",
            "eval_subset": tc.eval_subset,
            "n_train_asked": len(train),
            "n_train_solved": sum(r["correct"] for r in rows_train),
            "n_train_subset": len(sub_train),
            "n_test_asked": len(test) if tc.eval_subset == "teacher_solved" else 0,
            "n_test_solved": sum(r["correct"] for r in rows_test),
            "n_test_subset": len(sub_test),
            "sft": {},
            "skipped": {},
        }
        if not sub_train or not sub_test:
            summary["status"] = "empty"
            summary["message"] = (
                f"The teacher ({summary['teacher']}) solved {summary['n_train_solved']} of "
                f"{len(train)} train problems ({len(sub_train)} with every teacher text) and "
                f"{summary['n_test_solved']} of {summary['n_test_asked']} test problems of "
                f"{dataset}, so the {_empty_part(sub_train, sub_test)} of the "
                "teacher-solved subset is empty and no teacher condition was trained. Use a "
                "stronger teacher (teacher.backend: http) or more problems (teacher.n_problems, "
                "teacher.n_test), or set teacher.eval_subset: all."
            )
            log.warning("%s", summary["message"])
        else:
            summary["status"] = "ok"
            test_part = (
                f"{summary['n_test_solved']} of {summary['n_test_asked']} test problems"
                if tc.eval_subset == "teacher_solved"
                else f"all {len(sub_test)} test problems"
            )
            summary["message"] = (
                f"The teacher ({summary['teacher']}) solved {summary['n_train_solved']} of "
                f"{len(train)} train problems of {dataset}; {len(sub_train)} of them (every "
                f"teacher text non-empty) train every condition, and {test_part} form the "
                f"common test subset ({len(sub_test)} problems)."
            )
            for name in tc.conditions:
                try:
                    recs = build_condition_sft(
                        name, sub_train, {r["id"]: r for r in rows_train}, profile
                    )
                except (RecordError, TraceFormatError) as e:  # e.g. swap of one problem: reported
                    summary["skipped"][name] = str(e)
                    log.warning("teacher condition %s skipped: %s", name, e)
                    continue
                path = d / f"sft-{name}.jsonl"
                write_jsonl(path, recs)
                words = [_trace_words(r) for r in recs]
                summary["sft"][name] = {
                    "path": str(path),
                    "n": len(recs),
                    "trace_words_mean": sum(words) / len(words),
                    "trace_words_max": max(words),
                }
        runio.atomic_write_json(d / "summary.json", summary)
        runio.mark_done(d)
    return d


def trace_token_lengths(d: Path, student: str, sft: Path) -> Path:
    """``lengths-<student>-<sft stem>.jsonl``: trace and target tokens of each SFT record."""
    from ..records import iter_jsonl, write_jsonl

    out = d / f"lengths-{student.replace('/', '_')}-{sft.stem}.jsonl"
    if out.exists():
        return out
    from ..students.catalog import load_tokenizer

    tok = load_tokenizer(student)
    rows = []
    for _, r in iter_jsonl(sft):
        content, span = r["messages"][2]["content"], r["spans"]["trace"]
        trace = content[span[0] : span[1]] if span else ""
        rows.append(
            {
                "id": r["id"],
                "trace_words": len(trace.split()),
                "trace_tokens": len(tok.encode(trace, add_special_tokens=False)) if trace else 0,
                "target_tokens": len(tok.encode(content, add_special_tokens=False)),
            }
        )
    tmp = out.with_suffix(".tmp")
    write_jsonl(tmp, rows)
    tmp.replace(out)
    return out


def run_teacher_dataset(
    profile: ProfileConfig, root: Path, runs: Path, dataset: str, problems_path: Path
) -> dict[str, Any]:
    """Prepare the stage of ``dataset``, then train, generate and score every condition x seed.

    Returns
    -------
    dict
        ``summary.json`` of the stage plus ``stage_dir`` and ``cells`` (one entry per trained
        cell: dataset, student, condition, seed, problems, sft, train_dir, predictions,
        score_dir, lengths).
    """
    from ..students.train import train
    from .grid import GridCellError, generate_and_score

    tc = profile.teacher
    d = prepare_stage(profile, runs, dataset, problems_path)
    summary = json.loads((d / "summary.json").read_text())
    gen_profile = profile
    if tc.student_max_new_tokens:
        gen = profile.generate.model_copy(update={"max_new_tokens": tc.student_max_new_tokens})
        gen_profile = profile.model_copy(update={"generate": gen})
    cells = []
    for student in profile_students(profile) if summary["status"] == "ok" else []:
        short = student.replace("/", "_")
        train_cfg = profile.train.model_copy(update={"student": student})
        for name in tc.conditions:
            if name not in summary["sft"]:
                continue
            sft = Path(summary["sft"][name]["path"])
            lengths = trace_token_lengths(d, student, sft)
            for seed in tc.seeds or profile.seeds:
                tag = f"teacher-{dataset}-{short}-{name}-s{seed}"
                try:
                    train_dir = train(train_cfg, sft, runs_root=runs, experiment="train", seed=seed)
                    preds, score_dir = generate_and_score(
                        gen_profile, root, student, d / "problems.jsonl", train_dir / "adapter", tag
                    )
                except TracekdError:
                    raise
                except Exception as e:
                    raise GridCellError(
                        f"teacher cell {tag} failed: {type(e).__name__}: {e}"
                    ) from e
                cells.append(
                    {
                        "dataset": dataset,
                        "student": student,
                        "condition": name,
                        "seed": seed,
                        "problems": str(d / "problems.jsonl"),
                        "sft": str(sft),
                        "train_dir": str(train_dir),
                        "predictions": str(preds),
                        "score_dir": str(score_dir),
                        "lengths": str(lengths),
                    }
                )
    return {**summary, "stage_dir": str(d), "cells": cells}


def run_teacher_grid(profile: ProfileConfig, root: Path, runs: Path, problems_by_ds: dict) -> dict:
    """The whole teacher stage: ``{"enabled": bool, "datasets": [per-dataset results]}``."""
    if not profile.teacher.enabled:
        return {"enabled": False, "datasets": []}
    out = [
        run_teacher_dataset(profile, root, runs, ds, Path(problems_by_ds[ds]))
        for ds in profile.teacher.datasets
    ]
    return {"enabled": True, "datasets": out}
