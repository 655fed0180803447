"""Test helper (not product): reference output files -> our problem and prediction records.

The shared reference outputs (``../shared/reference/outputs/cotemp/*.jsonl``; fields
``input.text``, ``prediction``, ``gold``, ``triple_element``, ``question``, ``facts``) carry no
label or support. The converter takes the label from the file name (the relation) and the support
from the facts that contain a gold answer as a substring (the reference's own IR-gold rule); when
no fact contains one, support is ``[0]`` and the problem's ``meta["support_guessed"]`` is true.
Ids are ``ref-{relation}-{line}``. These files are never copied into the repository.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from tracekd_core.records import Problem, validate_problem

REFERENCE_ROOT = Path("/work/shared/reference/outputs")
REFERENCE_DIR = REFERENCE_ROOT / "cotemp"
BABI_DIR = REFERENCE_ROOT / "babi"
RELATIONS = ("equal", "overlap", "during", "mix")
CONDITIONS = ("correct", "incorrect")
_NAME = re.compile(r"(?P<model>.+)_(?P<cond>correct|incorrect)-traces_(?P<rel>\w+)\.jsonl$")


def reference_file(condition: str, relation: str, model: str = "llama-3.2-1b") -> Path:
    """Path of one shared reference output file."""
    return REFERENCE_DIR / f"{model}_{condition}-traces_{relation}.jsonl"


def convert(path: str | Path) -> tuple[list[Problem], list[dict]]:
    """Problems and predictions of one reference output file, in line order.

    Examples
    --------
    >>> import tempfile, os
    >>> row = {"input": {"text": "..."}, "prediction": "<answer>['B']</answer>", "gold": ["B"],
    ...        "triple_element": "S1_R1_O2", "question": "Q?", "facts": ["x", "A is B."]}
    >>> d = tempfile.mkdtemp()
    >>> f = os.path.join(d, "m_correct-traces_equal.jsonl")
    >>> _ = open(f, "w").write(json.dumps(row) + "\\n")
    >>> probs, preds = convert(f)
    >>> probs[0].id, probs[0].label, probs[0].support, preds[0]["output"]
    ('ref-equal-1', 'equal', [1], "<answer>['B']</answer>")
    """
    path = Path(path)
    m = _NAME.search(path.name)
    if not m:
        raise ValueError(f"{path}: expected '<model>_<correct|incorrect>-traces_<relation>.jsonl'")
    relation = m.group("rel")
    problems, predictions = [], []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            d = json.loads(line)
            support = [i for i, f in enumerate(d["facts"]) if any(g in f for g in d["gold"])]
            meta = {"triple_element": d["triple_element"]}
            if not support:
                support, meta["support_guessed"] = [0], True
            pid = f"ref-{relation}-{n}"
            problems.append(
                validate_problem(
                    Problem(
                        id=pid,
                        dataset="cotemp",
                        split="test",
                        question=d["question"],
                        context=list(d["facts"]),
                        answers=list(d["gold"]),
                        label=relation,
                        support=support,
                        meta=meta,
                    )
                )
            )
            predictions.append({"id": pid, "output": d["prediction"]})
    return problems, predictions


def babi_file(condition: str, model: str = "llama-3.2-1b") -> Path:
    """Path of one shared reference bAbI output file."""
    return BABI_DIR / f"{model}_{condition}-traces.jsonl"


def convert_babi(path: str | Path) -> tuple[list[Problem], list[dict]]:
    """Problems and predictions of one reference bAbI output file (one file, all tasks).

    Fields ``passage`` (list repr of the context), ``answer_passage`` (the support sentences),
    ``gold`` (one string) and ``query_type`` (the task label). Ids are ``ref-babi-{line}``.
    """
    problems, predictions = [], []
    with Path(path).open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            d = json.loads(line)
            context = [str(x) for x in ast.literal_eval(d["passage"])]
            wanted = set(ast.literal_eval(d["answer_passage"]))
            support = [i for i, f in enumerate(context) if f in wanted] or [0]
            pid = f"ref-babi-{n}"
            problems.append(
                validate_problem(
                    Problem(
                        id=pid,
                        dataset="babi",
                        split="test",
                        question=d["question"],
                        context=context,
                        answers=[d["gold"]],
                        label=d["query_type"],
                        support=support,
                    )
                )
            )
            predictions.append({"id": pid, "output": d["prediction"]})
    return problems, predictions
