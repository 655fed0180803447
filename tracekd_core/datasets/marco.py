"""MS MARCO QA v2.1: row loader (parquet / JSON / JSONL) and support rules (paper section 2.3).

A row is ``{query, query_id, query_type, passages: {is_selected, passage_text, url}, answers,
wellFormedAnswers}`` (``passages`` may also be a list of ``{is_selected, passage_text, url}``
objects, as in the original JSON release). Label = ``query_type`` (upper-case); context = the
passages; support (``DataConfig.marco_support``):

* ``selected`` (default): the passages the annotators marked ``is_selected`` -- the answer's
  actual source;
* ``overlap``: the reference's rule, the single passage with the largest word overlap with the
  first answer (lower-cased token sets; nltk's data-free ``TreebankWordTokenizer`` replaces
  ``word_tokenize``, whose punkt model cannot be downloaded here).

Rows whose only answer is "No Answer Present." (or empty) are skipped and counted, as are rows
with no selected passage under ``selected``: such problems have no gold retrieval step. (The
reference kept them, using the answer text itself as the "passage".) Sampling per query type is
seeded (reference: 1,000 train queries per type from ``train``, 200 test per type from
``validation``, unseeded).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..config import DataConfig
from ..errors import DatasetFormatError
from ..hub import resolve_revision
from ..records import Problem, read_text
from ..seeding import derive_rng
from .spec import CATEGORY_SENTENCE, INSTRUCTION
from .split import allocate

log = logging.getLogger(__name__)

#: Hugging Face dataset repo of ``source: hub``.
HUB_REPO = "microsoft/ms_marco"
#: Its default commit (``None``: ``main`` resolved to its SHA at load time, see ``hub.py``).
HUB_REVISION: str | None = None

NO_ANSWER = "No Answer Present."
REFERENCE_PER_TYPE = {"train": 1000, "test": 200}


def tokens(text: str) -> set[str]:
    """Lower-cased Treebank word tokens (data-free, no punkt download).

    Examples
    --------
    >>> sorted(tokens("The cat's mat."))
    ["'s", '.', 'cat', 'mat', 'the']
    """
    from nltk.tokenize import TreebankWordTokenizer

    return set(TreebankWordTokenizer().tokenize(text.lower()))


def overlap_support(passages: list[str], answer: str) -> list[int]:
    """The reference rule: index of the passage sharing most tokens with ``answer`` (first on ties).

    Examples
    --------
    >>> overlap_support(["Paris is in France.", "Rome is in Italy."], "Italy")
    [1]
    """
    ans = tokens(answer)
    scores = [len(tokens(p) & ans) for p in passages]
    return [max(range(len(passages)), key=lambda i: (scores[i], -i))]


def _passages(row: dict[str, Any], where: dict[str, Any]) -> tuple[list[str], list[int], list[str]]:
    ps = row.get("passages")
    if isinstance(ps, dict):
        texts, sel, urls = ps.get("passage_text"), ps.get("is_selected"), ps.get("url")
    elif isinstance(ps, list) and all(isinstance(x, dict) for x in ps):
        texts = [x.get("passage_text") for x in ps]
        sel = [x.get("is_selected") for x in ps]
        urls = [x.get("url", "") for x in ps]
    else:
        raise DatasetFormatError(
            **where,
            field="passages",
            value=ps,
            fix="Give {is_selected, passage_text, url} lists, or a list of such objects.",
        )
    texts, sel = list(texts or []), list(sel or [])
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise DatasetFormatError(
            **where,
            field="passages.passage_text",
            value=texts,
            fix="Give a non-empty list of non-empty passage strings.",
        )
    if len(sel) != len(texts) or not all(s in (0, 1, True, False) for s in sel):
        raise DatasetFormatError(
            **where,
            field="passages.is_selected",
            value=sel,
            fix=f"Give one 0/1 flag per passage ({len(texts)} passages).",
        )
    return texts, [int(s) for s in sel], [str(u) for u in (urls or [""] * len(texts))]


def row_to_problem(
    row: dict[str, Any],
    *,
    split: str,
    pid: str | None,
    support_rule: str,
    file: str,
    line: int | None,
) -> Problem | str:
    """One MARCO row -> Problem, or the reason it is skipped (``"no_answer"``, ``"no_selected"``).

    Raises
    ------
    DatasetFormatError
        On a missing or ill-typed field (names file, row, field, value).

    Examples
    --------
    >>> row = {"query": "where is rome", "query_id": 7, "query_type": "location",
    ...        "passages": {"is_selected": [0, 1], "passage_text": ["Paris.", "Rome is in Italy."],
    ...                     "url": ["u1", "u2"]}, "answers": ["Italy"], "wellFormedAnswers": []}
    >>> p = row_to_problem(row, split="test", pid=None, support_rule="selected", file="x", line=1)
    >>> p.id, p.label, p.support
    ('marco-7', 'LOCATION', [1])
    """
    where = {"file": file, "line": line}
    if not isinstance(row, dict):
        raise DatasetFormatError(**where, field="<row>", value=row, fix="Each row is an object.")
    if not isinstance(row.get("query"), str) or not row["query"].strip():
        raise DatasetFormatError(
            **where, field="query", value=row.get("query"), fix="Give the query text."
        )
    qtype = row.get("query_type")
    if not isinstance(qtype, str) or qtype.upper() not in LABELS:
        raise DatasetFormatError(
            **where,
            field="query_type",
            value=qtype,
            fix=f"Use one of {list(LABELS)} (any case).",
        )
    answers = row.get("answers")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise DatasetFormatError(
            **where, field="answers", value=answers, fix="Give a list of answer strings."
        )
    texts, sel, urls = _passages(row, where)
    answers = [a.strip() for a in answers if a.strip()]
    if not answers or all(a == NO_ANSWER for a in answers):
        return "no_answer"
    if support_rule == "selected":
        support = [i for i, s in enumerate(sel) if s]
        if not support:
            return "no_selected"
    else:
        support = overlap_support(texts, answers[0])
    wf_raw = row.get("wellFormedAnswers")  # HF stores "no well-formed answer" as "[]" strings
    wf = [a for a in wf_raw if isinstance(a, str) and a != "[]"] if isinstance(wf_raw, list) else []
    return Problem(
        id=pid or f"marco-{row.get('query_id')}",
        dataset="marco",
        split=split,
        question=row["query"].strip(),
        context=texts,
        answers=answers,
        label=qtype.upper(),
        support=support,
        meta={
            "query_type": qtype.upper(),
            "query_id": row.get("query_id"),
            "well_formed_answers": wf,
            "urls": urls,
            "selected": [i for i, s in enumerate(sel) if s],
            "support_rule": support_rule,
        },
    )


def iter_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row number, row)`` of a ``.parquet``, ``.jsonl`` or ``.json`` file (1-based numbers).

    ``.json`` may be a list of rows or the original column layout ``{field: {row_key: value}}``.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for n, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield n, row
    elif path.suffix == ".jsonl":
        with io.StringIO(read_text(path, DatasetFormatError)) as fh:
            for n, raw in enumerate(fh, start=1):
                if raw.strip():
                    yield n, _json(raw, path, n)
    else:
        data = _json(read_text(path, DatasetFormatError), path, None)
        if isinstance(data, dict) and isinstance(data.get("query"), dict):
            keys = list(data["query"])
            data = [
                {f: (col.get(k) if isinstance(col, dict) else None) for f, col in data.items()}
                for k in keys
            ]
        if not isinstance(data, list):
            raise DatasetFormatError(
                file=str(path),
                line=None,
                field="<top level>",
                value=data,
                fix="A .json file holds a list of rows or {field: {id: v}}.",
            )
        yield from enumerate(data, start=1)


def _json(text: str, path: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DatasetFormatError(
            file=str(path),
            line=line,
            field="<json>",
            value=text.strip()[:80],
            fix=f"Not valid JSON ({e.msg}).",
        ) from None


def read_rows(paths: list[Path], split: str, cfg: DataConfig, seed: int) -> list[Problem]:
    """Problems of one split from ``paths``: seeded per-type sample (reference sizes by default)."""
    return sample_rows(
        ((str(p), n, row) for p in paths for n, row in iter_rows(p)), split, cfg, seed
    )


def sample_rows(
    rows: Iterable[tuple[str, int, dict[str, Any]]], split: str, cfg: DataConfig, seed: int
) -> list[Problem]:
    """Convert ``(file, row number, row)`` triples and sample per query type (seeded)."""
    per_type: dict[str, list[Problem]] = {t: [] for t in LABELS}
    skipped: Counter[str] = Counter()
    for file, n, row in tqdm(rows, desc=f"MARCO {split} rows", disable=None):
        p = row_to_problem(
            row, split=split, pid=None, support_rule=cfg.marco_support, file=file, line=n
        )
        if isinstance(p, str):
            skipped[p] += 1
        else:
            per_type[p.label].append(p)
    if skipped:
        log.warning("MARCO %s: skipped %s", split, dict(skipped))
    want = cfg.n_train if split == "train" else cfg.n_test
    counts = (
        dict.fromkeys(LABELS, REFERENCE_PER_TYPE[split])
        if want is None
        else allocate(want, LABELS, cfg.label_weights)
    )
    rng = derive_rng(seed, "marco", split)
    out = []
    for t in LABELS:
        k = min(counts[t], len(per_type[t]))
        if k < counts[t]:
            log.warning("MARCO %s: only %d usable %s rows (wanted %d)", split, k, t, counts[t])
        keep = set(rng.sample(range(len(per_type[t])), k))
        out += [p for i, p in enumerate(per_type[t]) if i in keep]
    return out


def _files(folder: Path, prefixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in (".parquet", ".json", ".jsonl") and p.name.lower().startswith(prefixes)
    )


def load_folder(folder: Path, cfg: DataConfig, seed: int) -> list[Problem]:
    """Train from ``train*`` files, test from ``validation*``/``dev*`` files under ``folder``."""
    train_files, test_files = _files(folder, ("train",)), _files(folder, ("validation", "dev"))
    if not train_files and not test_files:
        raise DatasetFormatError(
            file=str(folder),
            line=None,
            field="<files>",
            value=None,
            fix="Put MARCO train*.{parquet,json,jsonl} and validation*/dev* files in this folder.",
        )
    return read_rows(train_files, "train", cfg, seed) + read_rows(test_files, "test", cfg, seed)


def load_hub(cfg: DataConfig, seed: int) -> list[Problem]:
    """``microsoft/ms_marco`` v2.1 at a pinned commit (train -> train, validation -> test)."""
    from datasets import load_dataset

    revision = resolve_revision(HUB_REPO, cfg.revision or HUB_REVISION)
    out: list[Problem] = []
    for hub_split, split in (("train", "train"), ("validation", "test")):
        ds = load_dataset(HUB_REPO, "v2.1", split=hub_split, revision=revision)
        name = f"hub:{HUB_REPO}@{revision}/v2.1/{hub_split}"
        out += sample_rows(((name, n, row) for n, row in enumerate(ds, start=1)), split, cfg, seed)
    return out


# --------------------------------------------------------------------------- solver

_PATTERNS: dict[str, list[tuple[str, str]]] = {
    # (question regex capturing the entity, passage regex template with {e})
    "DESCRIPTION": [(r"what is an? (.+)", r"An? {e} is (an? [^.]+)\.")],
    "NUMERIC": [
        (r"what is the population of (.+)", r"{e} has a population of ([\d,]+)"),
        (r"what year was (.+) founded", r"{e} was founded by .+? in (\d{{4}})"),
    ],
    "ENTITY": [(r"what is the (.+) made of", r"The {e} is made of ([a-z ]+?)(?: and|\.)")],
    "LOCATION": [
        (r"where is (.+) located", r"{e} is located in ([A-Z]\w+)"),
        (r"where is the headquarters of (.+)", r"{e} has its headquarters in ([A-Z]\w+)"),
    ],
    "PERSON": [(r"who founded (.+)", r"{e} was founded by ([A-Z]\w+ [A-Z]\w+)")],
}


def solve(problem: Problem) -> list[str]:
    """Extract the answer from the support passages with the question's pattern (synthetic rows).

    Returns ``[]`` when the question follows no known pattern (real MS MARCO queries).

    Examples
    --------
    >>> p = Problem(id="m", dataset="marco", split="test", question="who founded Acme Mills",
    ...             context=["Other text.", "Acme Mills was founded by Ann Berg in 1901."],
    ...             answers=["Ann Berg"], label="PERSON", support=[1])
    >>> solve(p)
    ['Ann Berg']
    """
    text = " ".join(problem.support_text)
    for q_re, p_re in _PATTERNS.get(problem.label, []):
        m = re.fullmatch(q_re, problem.question.strip().rstrip("?"))
        if m:
            hit = re.search(p_re.format(e=re.escape(m.group(1))), text)
            return [hit.group(1)] if hit else []
    return []


# --------------------------------------------------------------- the dataset's entry (spec.py)

#: The gold classification-step labels: MS MARCO's query types (section 2.3).
LABELS = ("DESCRIPTION", "NUMERIC", "ENTITY", "LOCATION", "PERSON")
LABEL_SENTENCE = CATEGORY_SENTENCE
RETRIEVAL_SENTENCE = "I need to use the following text to answer the question: "


def user_prompt(p: Problem) -> str:
    """The user turn: the passages as a list repr, then the question on its own line."""
    return f"{INSTRUCTION}{p.context!r}\nQuestion: {p.question}\nOnly return the answer.\n"


def answer_format(p: Problem) -> str:
    """MARCO targets write the bare first answer (PAPER_NOTES 2.3)."""
    return p.answers[0]
