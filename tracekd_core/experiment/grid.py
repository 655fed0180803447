"""The experiment grid behind ``tracekd run --profile NAME`` (book chapter "Training grid").

One profile = datasets x conditions x seeds. For every cell the runner calls the library stages
in order (data -> traces -> train -> generate -> score); each stage writes a content-addressed
folder with a ``DONE`` marker (or an atomic output file), so a second run with nothing changed
only checks markers, and an interrupted run resumes where it stopped. The grid index
(``runs/<profile>/grid.json``) lists every cell and where its outputs live; the notebooks read
it (via ``report/tables.py``) and never recompute.

Direct prompting is not trained and uses greedy decoding, so it has one cell per dataset that is
shared by every seed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .. import runio
from ..config import DataConfig, ProfileConfig, dump, profile_students
from ..datasets import make_problems, source_fingerprint
from ..errors import EmptyInputError, InconsistentRunError, RecordError, TracekdError
from ..evaluation.score import read_predictions, score_run
from ..records import read_problems, write_jsonl, write_problems
from ..traces.decompose import build_sft_examples
from .conditions import get_condition
from .intervene import intervene

log = logging.getLogger(__name__)


class GridCellError(TracekdError, RuntimeError):
    """A stage of one grid cell failed; the message names the cell and the stage."""


@dataclass
class Cell:
    """One (dataset, condition, seed) cell of the grid and the paths of its outputs."""

    dataset: str
    student: str
    condition: str
    seed: int | None
    problems: str
    sft: str | None = None
    train_dir: str | None = None
    predictions: str | None = None
    score_dir: str | None = None


def data_dir(root: Path, dc: DataConfig, data_seed: int) -> Path:
    """``data/derived/<hash>/`` of one dataset config (hash of config, seed and data code)."""

    keyed: dict[str, Any] = {
        "data": dump(dc),
        "seed": data_seed,
        "code": runio.stage_fingerprint("data"),
    }
    if source := source_fingerprint(dc):  # native files' contents (synthetic keys unchanged)
        keyed["source"] = source
    key = runio.stable_hash(keyed)
    return root / "data" / "derived" / f"{dc.dataset}-{key}"


def build_problems(root: Path, dc: DataConfig, data_seed: int) -> Path:
    """Generate or load the problems of ``dc`` once; return the path of ``problems.jsonl``."""

    d = data_dir(root, dc, data_seed)
    lock = runio.hold_lock(d)  # noqa: F841 (data folders are shared by profiles)
    path = d / "problems.jsonl"
    if not path.exists():
        from ..datasets import source_fingerprint  # the hub commit / file hashes it was made from

        manifest = {"data": dump(dc), "seed": data_seed, "source": source_fingerprint(dc)}
        runio.atomic_write_json(d / "config.json", manifest)
        write_problems(path, make_problems(dc, data_seed))
    return path


def build_sft(
    problems_path: Path, kind: str, corruption: str | None, template: str, data_seed: int
) -> Path:
    """Write the SFT file of one (kind, corruption) beside the problems; return its path."""

    key = runio.stable_hash(
        {
            "kind": kind,
            "corruption": corruption,
            "template": template,
            "seed": data_seed,
            "code": runio.stage_fingerprint("traces"),
        },
        n=8,
    )
    name = f"sft-{kind}" + (f"-{corruption}" if corruption else "") + f"-{key}.jsonl"
    path = problems_path.parent / name
    if not path.exists():
        train = [p for p in read_problems(problems_path) if p.split == "train"]
        write_jsonl(
            path,
            build_sft_examples(
                train, kind, corruption=corruption, template=template, seed=data_seed
            ),
        )
    return path


def generate_and_score(
    profile: ProfileConfig,
    root: Path,
    student: str,
    problems_path: Path,
    adapter: Path | None,
    cell_name: str,
) -> tuple[Path, Path]:
    """Generate on the test split (resumable) and score; return (predictions, score_dir)."""
    from ..students.generate import generate

    runs = runio.profile_dir(root, profile.name, profile.runs_root)
    gen_key = runio.run_key(
        {
            "student": student,
            # the train run folder name is the hash of its config, data and code
            "adapter": adapter.parent.name if adapter else None,
            "generate": dump(profile.generate),
            "quant": "none",
        },
        {"problems": runio.file_sha256(problems_path)},
        runio.stage_fingerprint("generate"),
    )
    gen_dir = runs / "generate" / f"{cell_name}-{gen_key}"
    preds = gen_dir / "predictions.jsonl"
    with runio.locked(gen_dir):
        if not runio.is_done(gen_dir):
            test = [p for p in read_problems(problems_path) if p.split == "test"]
            if not test:
                raise EmptyInputError(
                    f"{problems_path}: the test split is empty, so cell {cell_name} has nothing "
                    "to generate. Raise the dataset's n_test (or n) in the profile."
                )
            generate(student, test, preds, cfg=profile.generate, adapter=adapter)
            runio.mark_done(gen_dir)
        check_done_predictions(gen_dir, preds)
    score_key = runio.run_key(
        dump(profile.score),
        {"predictions": runio.file_sha256(preds)},
        runio.stage_fingerprint("score"),
    )
    score_dir = runs / "score" / f"{cell_name}-{score_key}"
    lock = runio.hold_lock(score_dir)  # noqa: F841 (held until this function returns)
    if not runio.is_done(score_dir):
        score_run(
            problems_path,
            preds,
            score_dir,
            answer_scoring=profile.score.answer_scoring,
            trace_scoring=profile.score.trace_scoring,
            split="test",
        )
        runio.mark_done(score_dir)
    return preds, score_dir


def check_done_predictions(gen_dir: Path, preds: Path) -> None:
    """A ``DONE`` generate folder must hold a readable predictions file with unique ids.

    Raises
    ------
    InconsistentRunError
        Naming the folder to delete (the next run regenerates it).
    """

    fix = f"Delete the folder {gen_dir} and re-run: it will be generated again."
    if not preds.is_file():
        raise InconsistentRunError(f"{gen_dir} is marked DONE but has no {preds.name}. {fix}")
    try:
        read_predictions(preds)
    except RecordError as e:
        raise InconsistentRunError(f"{gen_dir} is marked DONE but {e} {fix}") from e


def plan_cells(profile: ProfileConfig) -> list[tuple[DataConfig, str, str, int | None]]:
    """Every (dataset, student, condition, seed) cell; untrained conditions get seed ``None``."""
    cells = []
    for dc in profile.datasets:
        for student in profile_students(profile):
            for name in profile.conditions:
                cond = get_condition(name)
                for seed in profile.seeds if cond.trains else [None]:
                    cells.append((dc, student, name, seed))
    return cells


def _run_cell(
    profile: ProfileConfig,
    root: Path,
    runs: Path,
    problems_path: Path,
    dc: DataConfig,
    student: str,
    name: str,
    seed: int | None,
) -> Cell:
    """Train (if the condition trains), generate and score one cell; skip finished stages."""
    from ..students.train import train

    cond = get_condition(name)
    cell = Cell(dc.dataset, student, name, seed, str(problems_path))
    adapter = None
    if cond.trains:
        corruption = (
            cond.corruption or profile.trace.corruption if cond.kind == "incorrect" else None
        )
        sft = build_sft(
            problems_path, cond.kind, corruption, profile.trace.template, profile.data_seed
        )
        cell.sft = str(sft)
        train_cfg = profile.train.model_copy(update={"student": student})
        train_dir = train(train_cfg, sft, runs_root=runs, experiment="train", seed=seed)
        cell.train_dir = str(train_dir)
        adapter = train_dir / "adapter"
    short = student.replace("/", "_")
    tag = f"{dc.dataset}-{short}-{name}" + (f"-s{seed}" if seed is not None else "")
    preds, score_dir = generate_and_score(profile, root, student, problems_path, adapter, tag)
    cell.predictions, cell.score_dir = str(preds), str(score_dir)
    return cell


def run_intervention_stage(profile: ProfileConfig, runs: Path, cells: list[Cell]) -> list[dict]:
    """Inference-time interventions (chapter 7) on the trained cells the profile opts in.

    One content-addressed folder per cell under ``runs/<profile>/interventions/`` with
    ``items.jsonl``, ``summary.json`` and a ``DONE`` marker; returns index entries.
    """

    icfg = profile.interventions
    if not icfg.enabled:
        return []
    out = []
    gen_cfg = profile.generate.model_copy(update={"max_new_tokens": icfg.max_new_tokens})
    for cell in cells:
        if cell.condition not in icfg.conditions or not cell.train_dir:
            continue
        key = runio.run_key(
            dump(icfg),
            {"predictions": runio.file_sha256(cell.predictions), "adapter": cell.train_dir},
            runio.stage_fingerprint("interventions"),
        )
        short = cell.student.replace("/", "_")
        d = runs / "interventions" / f"{cell.dataset}-{short}-{cell.condition}-s{cell.seed}-{key}"
        if not runio.is_done(d):
            intervene(
                cell.student,
                Path(cell.train_dir) / "adapter",
                cell.problems,
                cell.predictions,
                d,
                cfg=gen_cfg,
                kinds=icfg.kinds,
                n_problems=icfg.n_problems,
                seed=profile.data_seed,
            )
            runio.mark_done(d)
        out.append({**asdict(cell), "interventions_dir": str(d)})
    return out


def run_teacher_stage(
    profile: ProfileConfig, root: Path, runs: Path, problems_by_ds: dict[str, Path]
) -> dict[str, Any]:
    """The teacher-trace stage (paper section 4, chapter 5): see ``teacher_grid.py``.

    Runs only with ``teacher.enabled``; returns the ``teacher`` entry of the grid index.
    """
    from .teacher_stage import run_teacher_grid

    return run_teacher_grid(profile, root, runs, problems_by_ds)


def _compute_seconds(index_path: Path, this_run: float) -> float:
    """Wall time of the grid run that did the work: a re-run that only skipped adds its own."""
    import json

    previous = 0.0
    if index_path.exists():
        previous = float(json.loads(index_path.read_text()).get("compute_seconds", 0.0))
    return round(previous + this_run if this_run > 60 or not previous else previous, 1)


def run_grid(profile: ProfileConfig, root: str | Path = ".") -> Path:
    """Run (or resume) every cell of ``profile`` under the profile's lock (see ``_run_grid``).

    Raises
    ------
    RunLockedError
        Another process is running the same profile on the same root.
    """
    runs = runio.profile_dir(root, profile.name, profile.runs_root)
    runs.mkdir(parents=True, exist_ok=True)
    with runio.locked(runs, wait=False, what=f"profile grid {profile.name!r}"):
        return _run_grid(profile, root)


def _run_grid(profile: ProfileConfig, root: str | Path = ".") -> Path:
    """Run (or resume) every cell of ``profile``; return the path of the grid index.

    Parameters
    ----------
    profile : ProfileConfig
        The validated experiment profile.
    root : path
        Project root holding ``data/`` and the runs folder.

    Returns
    -------
    Path
        ``<runs_root>/<profile>/grid.json``: the profile, and one entry per cell.
    """
    root = Path(root)
    runs = runio.profile_dir(root, profile.name, profile.runs_root)
    runs.mkdir(parents=True, exist_ok=True)
    runio.atomic_write_json(runs / "profile.json", dump(profile))  # first action: resolved config
    t_start = time.perf_counter()
    cells: list[Cell] = []
    problems_by_ds = {
        dc.dataset: build_problems(root, dc, profile.data_seed) for dc in profile.datasets
    }
    plan = plan_cells(profile)
    for dc, student, name, seed in tqdm(plan, desc=f"grid {profile.name}", unit="cell"):
        problems = problems_by_ds[dc.dataset]
        try:
            cells.append(_run_cell(profile, root, runs, problems, dc, student, name, seed))
        except TracekdError:
            raise
        except Exception as e:
            raise GridCellError(
                f"cell dataset={dc.dataset} student={student} condition={name} seed={seed} "
                f"failed: {type(e).__name__}: {e}"
            ) from e
    interventions = run_intervention_stage(profile, runs, cells)
    teacher = run_teacher_stage(profile, root, runs, problems_by_ds)
    index: dict[str, Any] = {
        "profile": dump(profile),
        "cells": [asdict(c) for c in cells],
        "interventions": interventions,
        "teacher": teacher,
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        # the wall time of the run that did the work, kept across fast re-runs
        "compute_seconds": _compute_seconds(runs / "grid.json", time.perf_counter() - t_start),
        "manifest": runio.base_manifest(seed=profile.data_seed),
    }
    return runio.atomic_write_json(runs / "grid.json", index)
