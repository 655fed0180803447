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
