"""Notebooks are thin clients: title, parameters cell, environment cell, package calls."""

import json
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
REQUIRED = [
    "01_data",
    "02_train",
    "03_accuracy",
    "04_disconnect",
    "05_teacher_traces",
    "06_interpretability",
    "07_interventions",
]


def test_required_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    assert set(REQUIRED) <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    assert "parameters" in cells[1]["metadata"].get("tags", [])
    env = "".join(cells[2]["source"])
    # HF flags are read at import time: they must be set before any HF/tracekd import
    assert env.index("HF_HUB_OFFLINE") < env.index("from tracekd_core")
    for c in cells[3:]:
        src = "".join(c["source"])
        assert "pip install" not in src
        if c["cell_type"] == "code":
            # thin: no long functions inside notebooks
            assert src.count("\ndef ") == 0 and not src.startswith("def ")
            assert len(src.splitlines()) <= 12, (
                f"cell too long in {path.name}: move it to the package"
            )


def test_unwritable_book_folder_is_a_named_error(tmp_path, monkeypatch):
    import errno
    import shutil

    from tracekd_core.report import notebooks

    out = tmp_path / "runs" / "smoke" / "notebooks"
    out.mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    nb = tmp_path / "notebooks" / "01_x.ipynb"
    nb.write_text("{}")
    # pretend the notebook was executed already (key matches), so only the copy runs
    key = notebooks.runio.stable_hash(
        {
            "nb": notebooks.runio.file_sha256(nb),
            "grid": "no-grid",
            "code": notebooks.runio.stage_fingerprint("notebooks"),
            "profile": "smoke",
        }
    )
    (out / "01_x.ipynb").write_text("{}")
    (out / "01_x.key").write_text(key + "\n")

    def read_only(*a, **k):  # root ignores chmod, so simulate a read-only folder
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(shutil, "copy2", read_only)
    with pytest.raises(notebooks.BookWriteError, match="01_x.ipynb.*chmod"):
        notebooks.run_notebooks("smoke", tmp_path, book_dir=tmp_path / "book")


def test_grid_fingerprint_ignores_timings_but_not_cells(tmp_path):
    from tracekd_core.report import notebooks

    path = tmp_path / "grid.json"
    index = {"profile": {"name": "p"}, "cells": [{"dataset": "cotemp", "seed": 0}]}
    path.write_text(json.dumps({**index, "wall_seconds": 1.0}))
    fp = notebooks._grid_fingerprint(path)
    path.write_text(json.dumps({**index, "wall_seconds": 99.0, "compute_seconds": 5}))
    assert notebooks._grid_fingerprint(path) == fp  # a re-run that only skipped keeps the key
    index["cells"][0]["seed"] = 1
    path.write_text(json.dumps(index))
    assert notebooks._grid_fingerprint(path) != fp


def test_assemble_docs_stamps_each_page_below_its_title(tmp_path):
    from tracekd_core.report import notebooks

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title\n\nBody.\n")
    (tmp_path / "docs" / "b.md").write_text("No title.\n")
    out = notebooks.assemble_docs("smoke", tmp_path, book_dir="book")
    assert [p.name for p in out] == ["a.md", "b.md"]
    a = (tmp_path / "book" / "reference" / "a.md").read_text().splitlines()
    assert a[0] == "# Title" and a[2].startswith("*Built from tracekd ") and "`smoke`" in a[2]
    assert a[-1] == "Body."
    b = (tmp_path / "book" / "reference" / "b.md").read_text().splitlines()
    assert b[1].startswith("*Built from tracekd ") and b[-1] == "No title."
