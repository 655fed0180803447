"""The canonical problem record and the SFT example record (the data layer's contract).

Every later stage (traces, training, generation, scoring, the book) reads these JSON-lines
formats, so they are validated at every boundary. Paper section 2 (rule-based decomposition):
each problem carries its gold classification label and its gold retrieval support.

Problem record::
    {"id": str, "dataset": "cotemp"|"babi"|"marco", "split": "train"|"test",
     "question": str, "context": [str, ...], "answers": [str, ...], "label": str,
     "support": [int, ...], "meta": {...}}

SFT example record (written by ``tracekd traces``)::
    {"id": str, "kind": "none"|"label_only"|"correct"|"incorrect", "corruption": str|null,
     "messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
     "spans": {"trace": [start, end] | null, "answer": [start, end]},
     "trace": {"label": str|null, "support": [int, ...]|null, "support_text": [str, ...]|null,
               "swapped_from": str|null}}

``spans`` are character offsets into the *assistant* message content (end exclusive); the
training stage masks the loss from them, never by searching the template text. ``sft.py``
validates and reads SFT records (``validate_sft``, ``read_sft``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import RecordError
from .registry import DATASETS
from .runio import atomic_write_text

log = logging.getLogger(__name__)

T = TypeVar("T")

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Problem:
    """One open-book QA problem with its gold decomposition.

    Parameters
    ----------
    id : str
        Stable identifier (same source + seed -> same id).
    dataset : str
        ``cotemp``, ``babi`` or ``marco``.
    split : str
        ``train`` or ``test``.
    question : str
        The question text.
    context : list of str
        Facts (CoTemp), story lines (bAbI) or passages (MARCO).
    answers : list of str
        The full gold answer set (CoTemp ``mix`` has two or more).
    label : str
        Gold classification-step label (one of the dataset's ``DatasetSpec.labels``).
    support : list of int
        Indices into ``context`` of the gold information-retrieval step.
    meta : dict
        Dataset specifics (CoTemp ``triple_element``, bAbI ``task``, MARCO ``query_type``...).

    Examples
    --------
    >>> p = Problem(id="x1", dataset="cotemp", split="test", question="Q?",
    ...             context=["A holds the position of B from 2001 to 2003."], answers=["B"],
    ...             label="equal", support=[0])
    >>> validate_problem(p) is p
    True
    >>> Problem.from_dict(p.to_dict()) == p
    True
    """

    id: str
    dataset: str
    split: str
    question: str
    context: list[str]
    answers: list[str]
    label: str
    support: list[int]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict in canonical key order."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, file: str | None = None, line: int | None = None):
        """Build a problem from a dict, checking keys (not values: see ``validate_problem``)."""
        if not isinstance(d, dict):
            raise RecordError(
                file=file,
                line=line,
                field="<record>",
                value=d,
                fix="Each line must be one JSON object.",
            )
        required = ("id", "dataset", "split", "question", "context", "answers", "label", "support")
        for key in required:
            if key not in d:
                raise RecordError(
                    file=file,
                    line=line,
                    field=key,
                    value=None,
                    fix=f"Add the missing field; a problem record needs {required}.",
                )
        extra = set(d) - set(required) - {"meta"}
        if extra:
            raise RecordError(
                file=file,
                line=line,
                field=sorted(extra)[0],
                value=d[sorted(extra)[0]],
                fix="Unknown field; put dataset specifics under 'meta'.",
            )
        return cls(**{k: d[k] for k in required}, meta=d.get("meta") or {})

    @property
    def support_text(self) -> list[str]:
        """The context items of the gold retrieval step, in support order."""
        return [self.context[i] for i in self.support]


def validate_problem(p: Problem, *, file: str | None = None, line: int | None = None) -> Problem:
    """Check every field of ``p``; return it unchanged or raise ``RecordError``.

    Raises
    ------
    RecordError
        Naming the file, line, field, bad value and the fix.
    """

    def bad(fld: str, value: object, fix: str) -> RecordError:
        return RecordError(file=file, line=line, field=fld, value=value, fix=fix)

    if not isinstance(p.id, str) or not p.id:
        raise bad("id", p.id, "Use a non-empty string id.")
    if not isinstance(p.dataset, str) or p.dataset not in DATASETS:
        raise bad("dataset", p.dataset, f"Use one of {DATASETS.names()}.")
    if p.split not in SPLITS:
        raise bad("split", p.split, f"Use one of {SPLITS}.")
    if not isinstance(p.question, str) or not p.question.strip():
        raise bad("question", p.question, "Give the question text.")
    if (
        not isinstance(p.context, list)
        or not p.context
        or not all(isinstance(c, str) and c.strip() for c in p.context)
    ):
        raise bad("context", p.context, "Give a non-empty list of non-empty strings.")
    if (
        not isinstance(p.answers, list)
        or not p.answers
        or not all(isinstance(a, str) and a.strip() for a in p.answers)
    ):
        raise bad("answers", p.answers, "Give at least one non-empty gold answer string.")
    labels = DATASETS.get(p.dataset).labels
    if p.label not in labels:
        raise bad("label", p.label, f"Use one of {list(labels)} for {p.dataset}.")
    if not isinstance(p.support, list) or not p.support:
        raise bad("support", p.support, "Give at least one index into 'context'.")
    for i in p.support:
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(p.context):
            raise bad(
                "support",
                p.support,
                f"Index {i!r} is out of range: context has {len(p.context)} items "
                f"(valid 0..{len(p.context) - 1}); support holds 0-based indices.",
            )
    if len(set(p.support)) != len(p.support):
        raise bad("support", p.support, "Remove duplicate indices.")
    if not isinstance(p.meta, dict):
        raise bad("meta", p.meta, "Use a JSON object (or omit the field).")
    return p


def read_text(path: str | Path, error: type[RecordError] = RecordError) -> str:
    """A UTF-8 text file's contents; a missing path, a folder or non-UTF-8 bytes raise ``error``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "x.txt"
    ...     _ = p.write_bytes(b"ok\\n\\xff\\n")
    ...     try:
    ...         read_text(p)
    ...     except RecordError as e:
    ...         (e.line, e.field)
    (2, '<encoding>')
    """
    path = Path(path)
    if not path.exists():
        raise error(
            file=str(path),
            line=None,
            field="<path>",
            value=str(path),
            fix="No such file; check the path (and the current folder).",
        )
    if path.is_dir():
        raise error(
            file=str(path),
            line=None,
            field="<path>",
            value=str(path),
            fix="This is a folder; give the file inside it.",
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(
            file=str(path),
            line=data.count(b"\n", 0, e.start) + 1,
            field="<encoding>",
            value=data[max(0, e.start - 20) : e.end + 20],
            fix=f"Byte {e.start} is not UTF-8; re-save the file as UTF-8.",
        ) from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for every non-blank line of a JSON-lines file.

    Raises
    ------
    RecordError
        A missing path, a folder, non-UTF-8 bytes or a line that is not JSON (file and line).
    """
    path = Path(path)
    for n, raw in enumerate(read_text(path).split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            yield n, json.loads(raw)
        except json.JSONDecodeError as e:
            raise RecordError(
                file=str(path),
                line=n,
                field="<json>",
                value=raw.strip()[:80],
                fix=f"Line is not valid JSON ({e.msg}); one object per line.",
            ) from None


def read_unique_jsonl(
    path: str | Path,
    parse: Callable[[Any, str, int], T],
    key: Callable[[T], str],
    *,
    what: str = "Ids",
) -> list[T]:
    """Read a JSON-lines file, ``parse(obj, file, line)`` every line and require unique keys.

    The one reader behind ``read_problems``, ``sft.read_sft`` and ``score.read_predictions``.

    Parameters
    ----------
    path : str or Path
        The JSON-lines file.
    parse : callable
        Validates one decoded line and returns the record; raises naming file and line.
    key : callable
        The record's id.
    what : str, default="Ids"
        Names the ids in the duplicate-id error message.

    Returns
    -------
    list
        The parsed records, in file order.

    Raises
    ------
    RecordError
        A line is not JSON, or an id repeats (naming the line it was first used on).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "x.jsonl"
    ...     _ = path.write_text('{"id": "a"}\\n{"id": "a"}\\n')
    ...     read_unique_jsonl(path, lambda obj, file, line: obj, key=lambda r: r["id"])
    Traceback (most recent call last):
    ...
    tracekd_core.errors.RecordError: ...x.jsonl, line 2: field 'id' has bad value 'a'. Ids must ...
    """
    out: list[T] = []
    seen: dict[str, int] = {}
    for n, obj in iter_jsonl(path):
        rec = parse(obj, str(path), n)
        k = key(rec)
        if k in seen:
            raise RecordError(
                file=str(path),
                line=n,
                field="id",
                value=k,
                fix=f"{what} must be unique; first used on line {seen[k]}.",
            )
        seen[k] = n
        out.append(rec)
    return out


def read_problems(path: str | Path) -> list[Problem]:
    """Read and validate a problem JSON-lines file (ids must be unique)."""

    def parse(obj: Any, file: str, line: int) -> Problem:
        return validate_problem(Problem.from_dict(obj, file=file, line=line), file=file, line=line)

    return read_unique_jsonl(path, parse, key=lambda p: p.id)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Atomically write dicts as JSON lines; return the number of rows."""

    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def write_problems(path: str | Path, problems: Iterable[Problem]) -> int:
    """Validate and write problems as JSON lines."""
    return write_jsonl(path, (validate_problem(p).to_dict() for p in problems))
