"""The SFT example record contract: validation and I/O of ``sft.jsonl`` (paper section 2).

``decompose.build_sft_examples`` writes these records and ``render.py`` trains on them, so the
contract is checked at both boundaries (STYLE 6). ARCHITECTURE.md and ``docs/traces.md`` give the
record layout; ``records.py`` documents it next to the problem record::

    {"id": str, "kind": "none"|"label_only"|"correct"|"incorrect", "corruption": str|null,
     "messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
     "spans": {"trace": [start, end] | null, "answer": [start, end]},
     "trace": {"label": str|null, "support": [int, ...]|null, "support_text": [str, ...]|null,
               "swapped_from": str|null}}

``spans`` are ``[start, end)`` character offsets into the assistant content: ``trace`` covers
``<think>..</think>`` and ``answer`` covers ``<answer>..</answer>`` (the whole bare answer for
kind ``none``). The tag constants live here because the span checks are defined by them;
``decompose`` re-exports them next to the sentence constants its templates use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import RecordError, TraceFormatError
from ..records import Problem, read_unique_jsonl
from ..registry import CORRUPTIONS, SFT_KINDS
from .corrupt import check_corrupted
from .prompts import user_prompt
from .stated import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, StatedTrace, gold_trace

if TYPE_CHECKING:
    from .decompose import SftKind


SFT_KEYS = ("id", "kind", "corruption", "messages", "spans", "trace")
TRACE_KEYS = ("label", "support", "support_text", "swapped_from")
ROLES = ("system", "user", "assistant")


def _is_str_list(x: object) -> bool:
    return isinstance(x, list) and all(isinstance(s, str) for s in x)


def _is_int_list(x: object) -> bool:
    return isinstance(x, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in x)


def validate_sft(
    record: dict[str, Any],
    *,
    problem: Problem | None = None,
    file: str | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    """Check an SFT record against the contract; return it unchanged.

    Checks the keys, kind/corruption pairing, the ``[system, user, assistant]`` messages, that
    the spans are in range, non-empty, ordered and non-overlapping and cover ``<think>..</think>``
    and ``<answer>..</answer>`` (the whole bare answer for kind ``none``), and that the ``trace``
    fields match what the kind states. With ``problem``: the id and user turn match, the answer
    span holds the gold answer, a ``correct`` trace states the gold and an ``incorrect`` trace is
    verifiably wrong at every corrupted step.

    Parameters
    ----------
    record : dict
        One SFT record (see the module docstring).
    problem : Problem, optional
        The problem the record was built from; enables the gold checks.
    file, line : str and int, optional
        Where the record was read from, named in error messages.

    Returns
    -------
    dict
        ``record`` itself.

    Raises
    ------
    RecordError
        A missing/unknown/mistyped field (names file, line, field, value and the fix).
    TraceFormatError
        Spans or stated trace inconsistent with the assistant text or the problem.

    Examples
    --------
    >>> rec = {"id": "x", "kind": "none", "corruption": None,
    ...        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
    ...                     {"role": "assistant", "content": "green"}],
    ...        "spans": {"trace": None, "answer": [0, 5]},
    ...        "trace": {"label": None, "support": None, "support_text": None,
    ...                  "swapped_from": None}}
    >>> validate_sft(rec) is rec
    True
    >>> rec["spans"]["answer"] = [0, 9]
    >>> validate_sft(rec)
    Traceback (most recent call last):
    ...
    tracekd_core.errors.RecordError: <memory>: field 'spans.answer' has bad value [0, 9]. ...
    """

    def bad(fld: str, value: object, fix: str) -> RecordError:
        return RecordError(file=file, line=line, field=fld, value=value, fix=fix)

    def fmt(msg: str) -> TraceFormatError:
        where = (file or "<memory>") + (f", line {line}" if line is not None else "")
        return TraceFormatError(f"{where}: SFT record {record.get('id')!r}: {msg}")

    if not isinstance(record, dict):
        raise bad("<record>", record, "Each SFT line must be one JSON object.")
    for key in SFT_KEYS:
        if key not in record:
            raise bad(key, None, f"Add the missing field; an SFT record needs {SFT_KEYS}.")
    extra = sorted(set(record) - set(SFT_KEYS))
    if extra:
        raise bad(extra[0], record[extra[0]], f"Unknown field; an SFT record has {SFT_KEYS}.")
    if not isinstance(record["id"], str) or not record["id"]:
        raise bad("id", record["id"], "Use the problem's non-empty string id.")
    kind, corr = record["kind"], record["corruption"]
    if kind not in SFT_KINDS:
        raise bad("kind", kind, f"Use one of {SFT_KINDS.names()}.")
    spec: SftKind = SFT_KINDS.get(kind)
    if spec.needs_corruption and corr not in CORRUPTIONS:
        raise bad("corruption", corr, f"Kind {kind!r} needs one of {CORRUPTIONS.names()}.")
    if not spec.needs_corruption and corr is not None:
        raise bad("corruption", corr, f"Kind {kind!r} corrupts nothing; set it to null.")
    msgs = record["messages"]
    if (
        not isinstance(msgs, list)
        or len(msgs) != 3
        or any(not isinstance(m, dict) for m in msgs)
        or tuple(m.get("role") for m in msgs) != ROLES
        or any(not isinstance(m.get("content"), str) or not m["content"] for m in msgs)
    ):
        raise bad(
            "messages",
            msgs,
            "Give [system, user, assistant] dicts with non-empty "
            "string 'content' (build them with decompose.build_sft_examples).",
        )
    content = msgs[2]["content"]
    spans = record["spans"]
    if not isinstance(spans, dict) or set(spans) != {"trace", "answer"}:
        raise bad("spans", spans, "Give {'trace': [start, end] | null, 'answer': [start, end]}.")

    def span(name: str) -> tuple[int, int]:
        v = spans[name]
        if not (_is_int_list(v) and len(v) == 2 and 0 <= v[0] < v[1] <= len(content)):
            raise bad(
                f"spans.{name}",
                v,
                f"Give a non-empty [start, end) with 0 <= start < end"
                f" <= {len(content)} (the assistant content length).",
            )
        return v[0], v[1]

    a0, a1 = span("answer")
    answer = content[a0:a1]
    trace = record["trace"]
    if not isinstance(trace, dict) or set(trace) != set(TRACE_KEYS):
        raise bad("trace", trace, f"Give a dict with exactly the keys {TRACE_KEYS}.")
    label, support, stext = trace["label"], trace["support"], trace["support_text"]
    if label is not None and not isinstance(label, str):
        raise bad("trace.label", label, "Give the stated label as a string or null.")
    if support is not None and not _is_int_list(support):
        raise bad("trace.support", support, "Give 0-based context indices or null.")
    if stext is not None and not _is_str_list(stext):
        raise bad("trace.support_text", stext, "Give the stated support texts or null.")
    if trace["swapped_from"] is not None and not isinstance(trace["swapped_from"], str):
        raise bad("trace.swapped_from", trace["swapped_from"], "Give the donor id or null.")
    if (label is not None) != spec.states_label or (stext is not None) != spec.states_support:
        raise fmt(
            f"kind {kind!r} states label={spec.states_label}, support="
            f"{spec.states_support}, but the trace field is {trace!r}."
        )

    if spans["trace"] is None:
        if spec.states_label or spec.states_support:
            raise bad("spans.trace", None, f"Kind {kind!r} has a trace; give its span.")
        if (a0, a1) != (0, len(content)):
            raise fmt(
                f"kind {kind!r}: the answer span {[a0, a1]} must cover the whole "
                f"assistant content (length {len(content)})."
            )
    else:
        t0, t1 = span("trace")
        think = content[t0:t1]
        if t1 > a0:
            raise fmt(f"trace span {[t0, t1]} overlaps or follows answer span {[a0, a1]}.")
        if not (think.startswith(THINK_OPEN) and think.endswith(THINK_CLOSE)):
            raise fmt(
                f"trace span text {think[:40]!r}...{think[-20:]!r} must start with "
                f"{THINK_OPEN!r} and end with {THINK_CLOSE!r}."
            )
        if not (answer.startswith(ANSWER_OPEN) and answer.endswith(ANSWER_CLOSE)):
            raise fmt(f"answer span text {answer!r} must be {ANSWER_OPEN}..{ANSWER_CLOSE}.")
        if label is not None and label not in think:
            raise fmt(f"stated label {label!r} does not occur in the trace text {think!r}.")
        if stext is not None and repr(stext) not in think:
            raise fmt(f"stated support {stext!r} does not occur (as a list repr) in {think!r}.")

    if problem is not None:
        if problem.id != record["id"]:
            raise bad("id", record["id"], f"Record belongs to problem {problem.id!r}.")
        gold = problem.answers[0]
        if gold not in answer and repr(gold)[1:-1] not in answer:
            raise fmt(f"answer span {answer!r} does not contain the gold answer {gold!r}.")
        if msgs[1]["content"] != user_prompt(problem):
            raise fmt(
                "user turn differs from prompts.user_prompt(problem); train and "
                "inference must share one template."
            )
        if support is not None and any(not 0 <= i < len(problem.context) for i in support):
            raise bad("trace.support", support, f"Indices must be < {len(problem.context)}.")
        if support is not None and stext != [problem.context[i] for i in support]:
            raise fmt(f"support_text {stext!r} is not the context items {support!r}.")
        if kind == "correct" and (label, support) != gold_trace(problem):
            raise fmt(
                f"a correct trace must state the gold ({problem.label!r}, "
                f"{problem.support!r}), got ({label!r}, {support!r})."
            )
        if spec.needs_corruption:
            check_corrupted(
                problem, StatedTrace(label, support, stext, trace["swapped_from"]), corr
            )
    return record


def read_sft(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate an ``sft.jsonl`` file (ids must be unique).

    Parameters
    ----------
    path : str or Path
        A JSON-lines file of SFT records (``tracekd traces`` writes one).

    Returns
    -------
    list of dict
        The records, in file order.

    Raises
    ------
    RecordError, TraceFormatError
        Naming the file and line of the first bad record.

    Examples
    --------
    >>> import json, tempfile
    >>> rec = {"id": "x", "kind": "none", "corruption": None,
    ...        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
    ...                     {"role": "assistant", "content": "green"}],
    ...        "spans": {"trace": None, "answer": [0, 5]},
    ...        "trace": {"label": None, "support": None, "support_text": None,
    ...                  "swapped_from": None}}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = Path(d) / "sft.jsonl"
    ...     _ = path.write_text(json.dumps(rec) + "\\n" + json.dumps(rec) + "\\n")
    ...     read_sft(path)
    Traceback (most recent call last):
    ...
    tracekd_core.errors.RecordError: ...sft.jsonl, line 2: field 'id' has bad value 'x'. ...
    """
    return read_unique_jsonl(
        path, lambda obj, file, line: validate_sft(obj, file=file, line=line), key=lambda r: r["id"]
    )
