"""Raw student output -> trace, label step, retrieval step, answer and a parse status.

Paper section 6 (decoupled evaluation): before the trace and the answer can be scored separately,
the generation has to be cut into its parts. Real students emit role headers (``assistant\\n``),
Qwen's ``<think>\\n...\\n</think>\\n\\n``, doubled or missing tags, Python list reprs and text
after ``</answer>``; unparseable output is a *status*, never an exception (errors.py).

Statuses
--------
``ok``
    A closed ``<think>...</think>`` trace followed by an answer (benign noise tolerated: role
    header, whitespace, text after ``</answer>``).
``no_trace``
    No trace (no tags, or an empty think block): the answer is the bare text (vanilla students,
    direct prompting) or the ``<answer>`` content.
``truncated``
    ``<think>`` opened and never closed (generation cut inside the trace): no answer. Also set
    by ``score.py`` for an output that hit ``max_new_tokens`` without a closed ``</answer>``.
``untagged_answer``
    A closed, non-empty trace followed by text without any ``<answer>`` tag. Only a final
    ``Answer: ...`` line (else the last non-empty line) is taken as the answer: real students
    restate the trace there, and scoring the whole remainder credited answers the student never
    gave. ``score.summarize`` reports these items and a sensitivity row (scored wrong).
``no_answer``
    The trace is closed but nothing follows it (or the answer tags are empty), or the output is
    empty.
``malformed``
    Tags are present but irregular (doubled ``<think>``/``<answer>``, a stray ``</answer>`` before
    the answer, ``<answer>`` never closed); the answer is recovered where possible.

The template registered as ``"reference"`` in ``registry.PARSERS`` knows the trace sentences of
ARCHITECTURE.md "Trace format".
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..registry import DATASETS, PARSERS

log = logging.getLogger(__name__)

STATUSES = ("ok", "no_trace", "untagged_answer", "no_answer", "truncated", "malformed")

_ROLE_HEADER = re.compile(r"^\s*(?:<\|[^|>]*\|>\s*)*(?:assistant|model)\s*:?\s*\n", re.IGNORECASE)
_LABEL_SENTENCE = re.compile(r"\bis:[ \t]*([^\n]*)", re.IGNORECASE)
_RETRIEVAL_SENTENCE = re.compile(
    r"I need to use the following \w+[^:\n]*:[ \t]*(.*)",  # facts/text/information...
    re.IGNORECASE | re.DOTALL,
)
_ITEM_SPLIT = re.compile(r"""['"]\s*,\s*['"]""")
_ANSWER_LINE = re.compile(r"^\s*(?:the\s+)?(?:final\s+)?answer\s*(?:is)?\s*[:：]\s*(.+?)\s*$", re.I)


def find_ci(s: str, sub: str, start: int = 0) -> int:
    """Index of ``sub`` in ``s`` ignoring case, as an offset into ``s`` itself (-1 if absent).

    ``s.lower()`` can change the length of ``s`` (``"İ".lower()`` is two code points), so
    offsets found in the lower-cased string must never slice the original.

    Examples
    --------
    >>> find_ci("İstanbul <ANSWER>x", "<answer>")
    9
    >>> "İstanbul <ANSWER>x".lower().find("<answer>")
    10
    """
    m = re.compile(re.escape(sub), re.IGNORECASE).search(s, start)
    return m.start() if m else -1


def count_ci(s: str, sub: str) -> int:
    """Number of non-overlapping case-insensitive occurrences of ``sub`` in ``s``."""
    return len(re.findall(re.escape(sub), s, flags=re.IGNORECASE))


def untagged_answer(rest: str) -> str:
    """The answer in text after ``</think>`` that has no ``<answer>`` tag.

    The last ``Answer: ...`` line if there is one, else the last non-empty line.

    Examples
    --------
    >>> untagged_answer("The facts say A works for B.\\nAnswer: ['B']")
    "['B']"
    >>> untagged_answer("I need the facts: X works for Y.\\n['Y']\\n")
    "['Y']"
    """
    lines = [ln.strip() for ln in rest.splitlines() if ln.strip()]
    for ln in reversed(lines):
        m = _ANSWER_LINE.match(ln)
        if m:
            return m.group(1).strip()
    return lines[-1] if lines else ""


@dataclass
class ParsedOutput:
    """One parsed generation.

    Parameters
    ----------
    trace : str or None
        Text inside the think block (``None`` when there is no trace).
    label_step : str or None
        The stated label: the canonical label of the dataset (``DatasetSpec.labels``) when it
        matches (case-insensitive), else the stated text; ``None`` when no label sentence was found.
    retrieval_step : list of str or None
        The stated context items; ``None`` when no retrieval sentence was found.
    answer : str or None
        The answer text (``<answer>`` content or bare text); ``None`` when there is none.
    answer_items : list of str or None
        ``answer`` as a list of items (a list repr is unpacked, a bare string is one item).
    status : str
        One of ``STATUSES``.
    issues : list of str
        Repairs made while parsing (``role_header``, ``doubled_think``, ``stray_close_answer``...).
    """

    trace: str | None
    label_step: str | None
    retrieval_step: list[str] | None
    answer: str | None
    answer_items: list[str] | None
    status: str
    issues: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return asdict(self)


def parse_list_repr(text: str) -> list[str]:
    """Items of a Python list repr, robust to broken quoting; a bare string is one item.

    ``ast.literal_eval`` is tried first; a list whose items contain an unescaped quote (e.g.
    ``['People's Party']``) falls back to splitting on quote-comma-quote.

    Parameters
    ----------
    text : str
        ``"['a', 'b']"``, ``"a"``, ``"[]"`` or a broken repr.

    Returns
    -------
    list of str
        Stripped, non-empty items.

    Examples
    --------
    >>> parse_list_repr("['Really', 'Liberal Party']")
    ['Really', 'Liberal Party']
    >>> parse_list_repr("['Anwar is a member of the People's Justice Party in 2008.']")
    ["Anwar is a member of the People's Justice Party in 2008."]
    >>> parse_list_repr("HuffPost is owned by Discovery Inc. in 2015.")
    ['HuffPost is owned by Discovery Inc. in 2015.']
    >>> parse_list_repr("[]")
    []
    """
    s = text.strip()
    if not s:
        return []
    if s.startswith("["):
        try:
            val = ast.literal_eval(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            val = None
        if isinstance(val, list | tuple):
            return [str(v).strip() for v in val if str(v).strip()]
        inner = s[1:-1] if s.endswith("]") else s[1:]
        inner = inner.strip()
        if not inner:
            return []
        parts = _ITEM_SPLIT.split(inner)
        return [p.strip().strip("'\"").strip() for p in parts if p.strip().strip("'\"").strip()]
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1].strip()
    return [s] if s else []


def match_label(stated: str, dataset: str) -> str:
    """Canonical label for a stated label text, else the stated text itself.

    Examples
    --------
    >>> match_label("Equal.", "cotemp")
    'equal'
    >>> match_label("description", "marco")
    'DESCRIPTION'
    >>> match_label("sometimes", "cotemp")
    'sometimes'
    """
    text = stated.strip().rstrip(".").strip().strip("'\"*`").strip()
    labels = DATASETS.get(dataset).labels if dataset in DATASETS else ()
    by_lower = {lab.lower(): lab for lab in labels}
    if text.lower() in by_lower:
        return by_lower[text.lower()]
    first = text.split()[0].strip(".,;:'\"*`").lower() if text.split() else ""
    return by_lower.get(first, text)


def parse_trace(trace: str, dataset: str) -> tuple[str | None, list[str] | None]:
    """Label step and retrieval step stated in a trace (the reference trace template).

    Examples
    --------
    >>> parse_trace("The temporal relation between the event in question and the event in "
    ...             "context is: during.\\nI need to use the following facts to answer the "
    ...             "question: ['A works for B in 2001.']", "cotemp")
    ('during', ['A works for B in 2001.'])
    >>> parse_trace("no structure here", "babi")
    (None, None)
    """
    label = None
    retrieval = None
    ret = _RETRIEVAL_SENTENCE.search(trace)
    head = trace[: ret.start()] if ret else trace
    lab = _LABEL_SENTENCE.search(head)
    if lab and lab.group(1).strip():
        label = match_label(lab.group(1), dataset)
    if ret:
        retrieval = parse_list_repr(ret.group(1))
    return label, retrieval


def _answer_items(answer: str | None) -> list[str] | None:
    return None if answer is None else parse_list_repr(answer)


def _split_answer(rest: str, issues: list[str]) -> tuple[str | None, bool]:
    """Answer text in ``rest`` (the text after the trace); returns (answer, irregular).

    All offsets are found case-insensitively in ``rest`` itself (``find_ci``).
    """
    irregular = False
    if count_ci(rest, "<answer>") > 1:
        issues.append("doubled_answer")
        irregular = True
    first = find_ci(rest, "<answer>")
    if first >= 0:
        if find_ci(rest[:first], "</answer>") >= 0:
            issues.append("stray_close_answer")
            irregular = True
        start = first + len("<answer>")
        end = find_ci(rest, "</answer>", start)
        nxt = find_ci(rest, "<answer>", start)
        if end < 0:
            issues.append("unclosed_answer")
            end = nxt if nxt >= 0 else len(rest)
            irregular = True
        elif 0 <= nxt < end:
            end = nxt
        tail = re.sub("</answer>", "", rest[end:], count=1, flags=re.IGNORECASE)
        if tail.strip():
            issues.append("text_after_answer")
        return rest[start:end].strip(), irregular
    if find_ci(rest, "</answer>") >= 0:
        # e.g. "</think></answer>['X']</answer>": drop closers, keep the text between them.
        issues.append("stray_close_answer")
        pieces = [p.strip() for p in re.split(r"</answer>", rest, flags=re.IGNORECASE)]
        pieces = [p for p in pieces if p]
        return (pieces[0] if pieces else ""), True
    return rest.strip(), False


def _has_answer_tag(rest: str) -> bool:
    """Whether the text after the trace has any answer tag (open or close)."""
    return find_ci(rest, "<answer>") >= 0 or find_ci(rest, "</answer>") >= 0


def _untraced(answer: str, irregular: bool, issues: list[str]) -> ParsedOutput:
    """An output with an answer but no trace (vanilla or direct prompting, or an empty think)."""
    return ParsedOutput(
        None,
        None,
        None,
        answer,
        _answer_items(answer),
        "malformed" if irregular else "no_trace",
        issues,
    )


def parse_reference(text: str, dataset: str) -> ParsedOutput:
    """Parse a raw generation in the reference trace format (registered as ``"reference"``).

    Parameters
    ----------
    text : str
        The decoded new tokens of one generation.
    dataset : str
        ``cotemp``, ``babi`` or ``marco`` (selects the label set).

    Returns
    -------
    ParsedOutput

    Examples
    --------
    >>> p = parse_reference("assistant\\n\\n<think>The temporal relation between the event in "
    ...     "question and the event in context is: equal.\\nI need to use the following facts to "
    ...     "answer the question: ['X is owned by Y in 2019.']</think> <answer>['Y']</answer>",
    ...     "cotemp")
    >>> p.status, p.label_step, p.retrieval_step, p.answer_items
    ('ok', 'equal', ['X is owned by Y in 2019.'], ['Y'])
    >>> parse_reference("['Really']", "cotemp").status
    'no_trace'
    >>> parse_reference("<think>The category of the question", "babi").status
    'truncated'
    """
    issues: list[str] = []
    s = text if isinstance(text, str) else ""
    m = _ROLE_HEADER.match(s)
    if m:
        issues.append("role_header")
        s = s[m.end() :]
    n_open, n_close = count_ci(s, "<think>"), count_ci(s, "</think>")
    if not s.strip():
        return ParsedOutput(None, None, None, None, None, "no_answer", issues)
    if n_open == 0 and n_close == 0:
        answer, irregular = _split_answer(s, issues)
        if not answer:
            return ParsedOutput(None, None, None, None, None, "no_answer", issues)
        return _untraced(answer, irregular, issues)
    irregular = False
    if n_open > 1:
        issues.append("doubled_think")
        irregular = True
    if n_close > 1:
        issues.append("doubled_close_think")
        irregular = True
    if n_close == 0:
        start = find_ci(s, "<think>") + len("<think>")
        trace = s[start:].strip()
        label, retrieval = parse_trace(trace, dataset)
        return ParsedOutput(trace, label, retrieval, None, None, "truncated", issues)
    close = find_ci(s, "</think>")
    opens = [m.start() for m in re.finditer("<think>", s[:close], flags=re.IGNORECASE)]
    open_ = opens[-1] if opens else -1
    if open_ < 0:
        # The chat template may put "<think>" in the prompt; the trace starts at the output.
        issues.append("missing_think_open")
        if n_open:
            irregular = True
        start = 0
    else:
        start = open_ + len("<think>")
    trace = re.sub(r"</?think>", "", s[start:close], flags=re.IGNORECASE).strip()
    rest = s[close + len("</think>") :]
    rest = re.sub(r"</?think>", "", rest, flags=re.IGNORECASE)
    answer, bad = _split_answer(rest, issues)
    irregular = irregular or bad
    if not trace:
        # Qwen's empty think block of a vanilla target: no trace at all.
        if not answer:
            return ParsedOutput(None, None, None, None, None, "no_answer", issues)
        return _untraced(answer, irregular, issues)
    label, retrieval = parse_trace(trace, dataset)
    if answer and not _has_answer_tag(rest):
        issues.append("untagged_answer")
        answer = untagged_answer(rest)
        return ParsedOutput(
            trace, label, retrieval, answer, _answer_items(answer), "untagged_answer", issues
        )
    if not answer:
        return ParsedOutput(
            trace, label, retrieval, None, None, "malformed" if irregular else "no_answer", issues
        )
    return ParsedOutput(
        trace,
        label,
        retrieval,
        answer,
        _answer_items(answer),
        "malformed" if irregular else "ok",
        issues,
    )


PARSERS.add("reference", parse_reference)


def parse_output(text: str, dataset: str, *, template: str = "reference") -> ParsedOutput:
    """Parse one raw generation with the parser registered under ``template``.

    Parameters
    ----------
    text : str
        Raw decoded output.
    dataset : str
        ``cotemp``, ``babi`` or ``marco``.
    template : str, default "reference"
        Name in ``registry.PARSERS``.

    Returns
    -------
    ParsedOutput

    Raises
    ------
    UnknownNameError
        If ``template`` is not registered.

    Examples
    --------
    >>> parse_output("green", "babi").answer
    'green'
    >>> parse_output("", "babi").status
    'no_answer'
    """
    return PARSERS.get(template)(text, dataset)
