"""Stage cache keys derived from import closures (codekeys.py, runio.stage_fingerprint)."""

from __future__ import annotations

import pytest

from tracekd_core import codekeys, runio
from tracekd_core.codekeys import PACKAGE_DIR, STAGE_ROOTS, import_closure, module_name

ALL_FILES = sorted(PACKAGE_DIR.rglob("*.py"))


@pytest.fixture
def edit(monkeypatch):
    """``edit(path)``: from now on the source reader sees ``path`` with one statement added."""
    edited: set = set()
    real = codekeys.read_source

    def fake(path):
        text = real(path)
        return text + "\n_EDITED_BY_TEST = 1\n" if path in edited else text

    monkeypatch.setattr(codekeys, "read_source", fake)
    return edited.add


def _keys() -> dict[str, str]:
    return {stage: runio.stage_fingerprint(stage) for stage in STAGE_ROOTS}


def _rel(path) -> str:
    return module_name(path).removeprefix("tracekd_core.")


def test_editing_a_scoring_rule_changes_the_score_key(edit):
    """The bug of issue 11: score_strict.py was not in the hand-kept SCORE_MODULES."""
    before = _keys()
    edit(PACKAGE_DIR / "evaluation" / "strict.py")
    after = _keys()
    assert after["score"] != before["score"]
    assert after["generate"] == before["generate"]  # generation does not read the scorer


def test_stages_sharing_a_subpackage_are_keyed_on_their_own_closure(edit):
    before = _keys()
    edit(PACKAGE_DIR / "students" / "decode.py")
    after = _keys()
    assert after["generate"] != before["generate"]
    assert after["train"] == before["train"]  # a decoder edit keeps trained adapters valid
    assert after["score"] == before["score"] and after["data"] == before["data"]


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_an_edit_changes_exactly_the_keys_of_the_stages_that_import_the_file(edit, path):
    closures = {stage: set(import_closure(*roots)) for stage, roots in STAGE_ROOTS.items()}
    before = _keys()
    edit(path)
    after = _keys()
    changed = {stage for stage in STAGE_ROOTS if after[stage] != before[stage]}
    assert changed == {stage for stage, files in closures.items() if path in files}


def test_closure_follows_function_level_and_submodule_imports():
    names = {_rel(f) for f in import_closure("evaluation.score")}
    # ``from . import strict`` (submodule import) and the lazy ``from ..datasets import solve``
    assert {"evaluation.strict", "evaluation.reference", "evaluation.consistency"} <= names
    assert "datasets.cotemp" in names and "datasets" in names  # a parent __init__ runs too
    assert not any(n.startswith(("students", "report", "experiment")) for n in names)


def test_a_subpackage_root_counts_every_file_in_it():
    names = {_rel(f) for f in import_closure("report")}
    assert {f"report.{m}" for m in ("tables", "plots", "findings", "inventory")} <= names


def test_train_stage_closure_holds_the_loss_and_not_the_decoder():
    """train.py keys its runs on the train stage: the loss numerics count, decoding does not."""
    names = {_rel(f) for f in import_closure(*STAGE_ROOTS["train"])}
    assert {"students.train", "students.loss", "students.render", "students.flops"} <= names
    assert "students.decode" not in names and "students.generate" not in names


def test_unknown_root_is_a_helpful_error():
    with pytest.raises(ValueError, match="'nope' is not a module.*STAGE_ROOTS"):
        import_closure("nope")


def test_code_digest_ignores_formatting_comments_and_docstrings():
    a = '"""Doc."""\ndef f(x):\n    """Say."""\n    return x + 1\n'
    b = "def f( x ):  # a comment\n    return (x+1)\n"
    c = "def f(x):\n    return x + 2\n"
    assert codekeys.code_digest(a) == codekeys.code_digest(b)
    assert codekeys.code_digest(a) != codekeys.code_digest(c)
