"""Execute the book's notebooks with papermill and assemble ``book/`` (the "book renders" rule).

Each notebook in ``notebooks/NN_verb_object.ipynb`` is executed with the profile as its only
parameter; the executed copy is kept in ``runs/<profile>/notebooks/`` as the log of its step and
copied into ``book/notebooks/`` where Jupyter Book renders it without re-executing. A notebook is
re-executed only when its source, the grid index or the reporting code changed (a ``.key`` file
beside the executed copy records what it was run on).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

from .. import runio
from ..errors import TracekdError
from .tables import build_stamp

log = logging.getLogger(__name__)


class NotebookFailedError(TracekdError, RuntimeError):
    """A notebook of the book raised; the message names the notebook and the cell."""


class BookWriteError(TracekdError, OSError):
    """The book folder cannot be written (read-only, not a folder, disk full)."""


def _writable(path: Path, write, *args, **kwargs) -> None:
    """Run ``write(*args, **kwargs)``; an OS error becomes a ``BookWriteError`` naming ``path``."""
    try:
        write(*args, **kwargs)
    except OSError as e:
        raise BookWriteError(
            f"cannot write {path} ({type(e).__name__}: {e.strerror or e}). Make the book folder "
            "writable (chmod -R u+w book/notebooks) or remove what is in the way, then re-run: "
            "executed notebooks are kept in runs/<profile>/notebooks and are not re-executed."
        ) from None


def _grid_fingerprint(grid_json: Path) -> str:
    index = json.loads(grid_json.read_text())
    keyed = {"profile": index["profile"], "cells": index["cells"]}
    if index.get("teacher", {}).get("enabled"):  # chapter 5 reads the teacher stage's cells
        keyed["teacher"] = index["teacher"]
    return runio.stable_hash(keyed)


def run_notebooks(
    profile: str,
    root: str | Path = ".",
    *,
    runs_root: str = "runs",
    book_dir: str | Path = "book",
    kernel: str = "python3",
) -> list[Path]:
    """Execute every ``notebooks/[0-9][0-9]_*.ipynb`` for ``profile``; return executed paths.

    Raises
    ------
    NotebookFailedError
        When a notebook raises; names the notebook, the failing cell and the error.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    root = Path(root).resolve()
    runs = runio.profile_dir(root, profile, runs_root)
    grid_json = runs / "grid.json"
    grid_fp = _grid_fingerprint(grid_json) if grid_json.exists() else "no-grid"
    code_fp = runio.stage_fingerprint("notebooks")
    out_dir = runs / "notebooks"
    book_nb = Path(book_dir) if Path(book_dir).is_absolute() else root / book_dir
    book_nb = book_nb / "notebooks"
    _writable(book_nb, book_nb.mkdir, parents=True, exist_ok=True)
    executed = []
    timings_path = out_dir / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    # the findings page (00_*) runs last: it reports the other notebooks' execution times
    for nb in sorted(
        (root / "notebooks").glob("[0-9][0-9]_*.ipynb"),
        key=lambda p: (p.name.startswith("00_"), p.name),
    ):
        out = out_dir / nb.name
        key = runio.stable_hash(
            {"nb": runio.file_sha256(nb), "grid": grid_fp, "code": code_fp, "profile": profile}
        )
        key_file = out.with_suffix(".key")
        if out.exists() and key_file.exists() and key_file.read_text().strip() == key:
            log.info("%s: unchanged, not re-executed", nb.name)
        else:
            log.info("executing %s", nb.name)
            out.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            try:
                pm.execute_notebook(
                    str(nb),
                    str(out),
                    parameters={"profile": profile, "root": str(root)},
                    kernel_name=kernel,
                    cwd=str(root),
                    progress_bar=False,
                    log_output=False,
                )
            except PapermillExecutionError as e:
                raise NotebookFailedError(
                    f"notebook {nb.name} failed in cell {e.exec_count} ({e.ename}: {e.evalue}); "
                    f"the executed copy with the traceback is {out}"
                ) from None
            timings[nb.stem] = round(time.perf_counter() - t0, 1)
            runio.atomic_write_json(timings_path, timings)
            runio.atomic_write_text(key_file, key + "\n")
        _writable(book_nb / nb.name, shutil.copy2, out, book_nb / nb.name)
        executed.append(out)
    return executed


def assemble_docs(
    profile: str, root: str | Path = ".", book_dir: str | Path = "book"
) -> list[Path]:
    """Copy the reference pages (``docs/*.md``) into ``book/reference/``, each stamped with the
    package version, git SHA and profile of the build (below its title)."""

    root = Path(root)
    dest = root / book_dir / "reference"
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for md in sorted((root / "docs").glob("*.md")):
        lines = md.read_text(encoding="utf-8").splitlines()
        at = 1 if lines and lines[0].startswith("# ") else 0
        lines[at:at] = ["", build_stamp(profile), ""]
        runio.atomic_write_text(dest / md.name, "\n".join(lines) + "\n")
        copied.append(dest / md.name)
    return copied
