"""CoTemp QA: native loader, fact parser, interval solver and support rule (paper section 2.1).

Native format: JSON-lines relation files ``equal.json``, ``overlap.json``, ``during.json``,
``mix.json`` with fields ``index``, ``triple_element``, ``question``, ``facts``, ``answer``. The
classification label is the relation (the file); the retrieval support is the set of facts that
state a gold answer.

Support rule (the reference used raw substring containment of any answer in the fact, which also
picks facts that merely *mention* the answer, e.g. as the owner of something else). Here the facts
are parsed into (subject, verb, object, time) and tried in order, recording the rule used in
``meta["support_rule"]``:

1. ``slot``: the answer equals (case-insensitively, whitespace-normalised) the fact's answer slot
   (the subject for ``S2_R1_O1`` questions, which ask for a person, else the object);
2. ``word``: the answer occurs in the fact as a whole word, case-insensitively;
3. ``substring``: the reference's raw substring rule.

The first rule under which *every* answer is stated by some fact wins; a problem whose answers
match no fact under any rule is skipped (counted in the log).
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import DataConfig
from ..errors import DatasetFormatError
from ..hub import resolve_revision
from ..records import Problem, read_text
from ..seeding import derive_rng
from ..text import normalize_text
from .spec import INSTRUCTION
from .split import sample_stratified, split_per_group

log = logging.getLogger(__name__)

#: Hugging Face dataset repo of ``source: hub``.
HUB_REPO = "Warrieryes/CotempQA"
#: Its default commit (``None``: ``main`` resolved to its SHA at load time, see ``hub.py``).
HUB_REVISION: str | None = None

TRIPLES = ("S1_R1_O2", "S2_R1_O1", "S1_R2_O2", "S2_R1_O2", "S2_R2_O2")
#: Question types naming two people, whose asked subject is named in the last clause.
S2_O2 = ("S2_R1_O2", "S2_R2_O2")
#: Wikidata relation -> verb phrases of the CoTempQA sentence templates (present and past).
VERBS: dict[str, tuple[str, ...]] = {
    "P39": ("holds the position of", "held the position of"),
    "P102": ("is a member of the", "was a member of the", "is a member of", "was a member of"),
    "P69": ("attended", "attends"),
    "P108": ("works for", "worked for"),
    "P54": ("plays for", "played for"),
    "P488": ("is the chair of", "was the chair of"),
    "P6": ("is the head of", "was the head of"),
    "P127": ("is owned by", "was owned by"),
}
#: Keywords of the asked clause of a question -> asked relation (checked in this order).
ASK_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("position", "P39"),
    ("party", "P102"),
    ("member", "P102"),
    ("school", "P69"),
    ("attend", "P69"),
    ("employer", "P108"),
    ("work", "P108"),
    ("team", "P54"),
    ("play", "P54"),
    ("chair", "P488"),
    ("head", "P6"),
    ("own", "P127"),
)
MONTHS = {m: i for i, m in enumerate(calendar.month_name) if m}
_DATE = r"(?:[A-Z][a-z]+ \d{1,2}, |[A-Z][a-z]+, )?\d{1,4}"
_TIME_RE = re.compile(rf" (?:from (?P<a>{_DATE}) to (?P<b>{_DATE})|in (?P<p>{_DATE}))\.?$")
_VERB_RE = re.compile(
    "|".join(
        re.escape(v)
        for v in sorted({v for vs in VERBS.values() for v in vs}, key=len, reverse=True)
    )
)
_VERB_REL = {v: rel for rel, vs in VERBS.items() for v in vs}


@dataclass(frozen=True)
class Fact:
    """One parsed CoTemp fact: ``subject verb object`` over ``[start, end]`` (day ordinals)."""

    subject: str
    relation: str
    object: str
    start: int
    end: int


def parse_date(text: str, *, end: bool = False) -> int:
    """Day ordinal of the first (or with ``end`` last) day of a CoTemp date.

    Dates are ``2001``, ``May, 2001`` or ``May 3, 2001``.

    Examples
    --------
    >>> parse_date("2001") == dt.date(2001, 1, 1).toordinal()
    True
    >>> parse_date("February, 2004", end=True) == dt.date(2004, 2, 29).toordinal()
    True
    """
    m = re.fullmatch(r"(?:([A-Z][a-z]+)(?: (\d{1,2}))?, )?(\d{1,4})", text.strip())
    if not m or (m.group(1) and m.group(1) not in MONTHS):
        raise ValueError(f"not a CoTemp date: {text!r}")
    year = int(m.group(3))
    if not m.group(1):
        return dt.date(year, 12 if end else 1, 31 if end else 1).toordinal()
    month = MONTHS[m.group(1)]
    if m.group(2):
        return dt.date(year, month, int(m.group(2))).toordinal()
    return dt.date(year, month, calendar.monthrange(year, month)[1] if end else 1).toordinal()


def parse_fact(text: str) -> Fact | None:
    """Parse a templated fact sentence; None if it does not follow a CoTemp template.

    Examples
    --------
    >>> f = parse_fact("Ann Lee works for Acme Corp from March, 2015 to July, 2018.")
    >>> f.subject, f.relation, f.object
    ('Ann Lee', 'P108', 'Acme Corp')
    >>> parse_fact("Minister of Women in the Presidency").__class__.__name__
    'NoneType'
    """
    t = _TIME_RE.search(text)
    if not t:
        return None
    head = text[: t.start()]
    v = _VERB_RE.search(head)
    if not v or v.start() == 0:
        return None
    subject, obj = head[: v.start()].strip(), head[v.end() :].strip()
    if not subject or not obj:
        return None
    try:
        if t.group("p"):
            start, end = parse_date(t.group("p")), parse_date(t.group("p"), end=True)
        else:
            start, end = parse_date(t.group("a")), parse_date(t.group("b"), end=True)
    except ValueError:
        return None
    return Fact(subject, _VERB_REL[v.group(0)], obj, start, end)


def time_relation(a: tuple[int, int], b: tuple[int, int]) -> str | None:
    """How interval ``b`` relates to anchor ``a``: equal, during, overlap or None (disjoint).

    ``during`` = one contains the other; ``overlap`` = they share time but neither contains the
    other (the CoTempQA relations; ``mix`` is a question whose answers mix these).

    Examples
    --------
    >>> time_relation((1, 5), (1, 5)), time_relation((1, 5), (2, 3)), time_relation((1, 5), (4, 9))
    ('equal', 'during', 'overlap')
    >>> time_relation((1, 5), (6, 9)) is None
    True
    """
    if a == b:
        return "equal"
    if b[1] < a[0] or a[1] < b[0]:
        return None
    if (a[0] <= b[0] and b[1] <= a[1]) or (b[0] <= a[0] and a[1] <= b[1]):
        return "during"
    return "overlap"


def cotemporal_answers(
    anchor: Fact, facts: list[Fact], triple: str, asked: str, asked_subject: str | None
) -> list[tuple[int, str, str]]:
    """The interval solver: ``(fact index, answer, time relation)`` of every co-temporal answer.

    ``S2_R1_O1`` asks who else had ``anchor``'s relation to ``anchor.object``; the other triples
    ask which ``asked``-relation object ``asked_subject`` had while the anchor held.

    Examples
    --------
    >>> a = Fact("Ann", "P108", "Acme", 10, 20)
    >>> fs = [a, Fact("Ann", "P69", "Uni", 15, 30), Fact("Ann", "P69", "Poly", 1, 5)]
    >>> cotemporal_answers(a, fs, "S1_R2_O2", "P69", "Ann")
    [(1, 'Uni', 'overlap')]
    """
    out = []
    for i, f in enumerate(facts):
        if f == anchor:
            continue
        rel = time_relation((anchor.start, anchor.end), (f.start, f.end))
        if rel is None:
            continue
        if triple == "S2_R1_O1":
            if (
                f.relation == anchor.relation
                and f.object == anchor.object
                and f.subject != anchor.subject
            ):
                out.append((i, f.subject, rel))
        elif f.relation == asked and f.subject == asked_subject and f.object != anchor.object:
            out.append((i, f.object, rel))
    return out


def label_of(relations: list[str]) -> str:
    """CoTemp label of a question from its answers' time relations (several kinds -> mix).

    Examples
    --------
    >>> label_of(["during", "during"]), label_of(["equal", "during"])
    ('during', 'mix')
    """
    kinds = set(relations)
    return kinds.pop() if len(kinds) == 1 else "mix"


def asked_relation(question: str) -> str | None:
    """The relation asked by the question's last clause (``, which ...?`` / ``, who ...?``).

    Examples
    --------
    >>> asked_relation("While Ann worked for Acme, which school did Ann attend at the same time?")
    'P69'
    """
    m = re.search(r",\s*((?:which|who|what)\b[^,]*)$", question)
    clause = (m.group(1) if m else question).lower()
    for word, rel in ASK_KEYWORDS:
        if word in clause:
            return rel
    return None


def _norm(s: str) -> str:
    return " ".join(s.casefold().split())


def _word_in(answer: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(_norm(answer))}(?!\w)", _norm(text)) is not None


def match_support(
    facts: list[str],
    answers: list[str],
    triple: str,
    asked: str | None = None,
    question: str | None = None,
) -> tuple[list[int], str]:
    """Indices of the facts that state a gold answer, and the rule used (see module docstring).

    With ``asked`` (the question's relation, ``asked_relation``) the ``slot`` rule also requires
    the fact to be of that relation, so an answer person's *other* facts are not support. With
    ``question``, slot matches whose other slot (the object for ``S2_R1_O1``, else the subject)
    is named in the question are preferred when there are any.

    Examples
    --------
    >>> facts = ["Ann works for Bo Inc from 2001 to 2003.",
    ...          "Bo Inc is owned by Cy from 2001 to 2003."]
    >>> match_support(facts, ["Bo Inc"], "S1_R1_O2")
    ([0], 'slot')
    >>> match_support(facts, ["Cy"], "S1_R1_O2")
    ([1], 'slot')
    >>> match_support(["Ann Lee was born."], ["ann lee"], "S1_R1_O2")
    ([0], 'word')
    """
    parsed = [parse_fact(f) for f in facts]

    def slot(i: int, a: str) -> bool:
        p = parsed[i]
        return (
            p is not None
            and (asked is None or p.relation == asked)
            and _norm(p.subject if triple == "S2_R1_O1" else p.object) == _norm(a)
        )

    rules = (
        ("slot", slot),
        ("word", lambda i, a: _word_in(a, facts[i])),
        ("substring", lambda i, a: a in facts[i]),
    )

    # two-person templates (S2_R1_O2, S2_R2_O2) name both people: the asked subject is the
    # one of the last clause (", which ... did B ...?"), not the anchor's person
    asked_in = question.rsplit(",", 1)[-1] if question and triple in S2_O2 else question

    def named(i: int) -> bool:
        p = parsed[i]
        other = p.object if triple == "S2_R1_O1" else p.subject
        return asked_in is not None and _word_in(other, asked_in)

    first_partial: tuple[list[int], str] | None = None
    for name, hit in rules:
        per_answer = [[i for i in range(len(facts)) if hit(i, a)] for a in answers]
        if name == "slot":
            per_answer = [[i for i in idx if named(i)] or idx for idx in per_answer]
        support = sorted({i for idx in per_answer for i in idx})
        if all(per_answer):
            return support, name
        if support and first_partial is None:
            first_partial = (support, f"{name}-partial")
    return first_partial if first_partial else ([], "none")


def off_subject_support(problem: Problem) -> list[int]:
    """Support indices of a two-person question (``S2_R1_O2``, ``S2_R2_O2``) not about the asked
    subject (the person named in the question's last clause); ``[]`` for other question types.

    The decomposition must never return one (issue 9: before the asked-subject rule the issue
    counted 28 of 2,271 real two-person problems with such a fact).

    Examples
    --------
    >>> q = "While Ann attended Uni, which school was Bo attending at the same time?"
    >>> p = Problem(id="x", dataset="cotemp", split="test", label="equal", support=[0, 1],
    ...             question=q, answers=["Tech"], meta={"triple_element": "S2_R1_O2"},
    ...             context=["Bo attended Tech from 2001 to 2003.", "Ann attended Tech in 2002."])
    >>> off_subject_support(p)
    [1]
    """
    if problem.meta.get("triple_element") not in S2_O2:
        return []
    asked_in = problem.question.rsplit(",", 1)[-1]
    out = []
    for i in problem.support:
        f = parse_fact(problem.context[i])
        if f is None or not _word_in(f.subject, asked_in):
            out.append(i)
    return out


def solve(problem: Problem) -> list[str]:
    """Recompute the answers from the support facts and the question alone.

    The answer slot of each support fact (subject for ``S2_R1_O1``, else object) whose relation is
    the one the question asks about (facts of other relations are ignored).

    Examples
    --------
    >>> q = "While Ann worked for Acme, which school did Ann attend at the same time?"
    >>> p = Problem(id="x", dataset="cotemp", split="test", label="during", support=[0],
    ...             question=q,
    ...             context=["Ann attended Uni from 2001 to 2009.", "Ann works for Acme in 2004."],
    ...             answers=["Uni"], meta={"triple_element": "S1_R2_O2"})
    >>> solve(p)
    ['Uni']
    """
    triple = problem.meta.get("triple_element", "")
    asked = asked_relation(problem.question)
    facts = [f for f in (parse_fact(problem.context[i]) for i in problem.support) if f]
    chosen = [f for f in facts if asked is None or f.relation == asked] or facts
    out = [f.subject if triple == "S2_R1_O1" else f.object for f in chosen]
    return list(dict.fromkeys(out))


def solve_by_time(problem: Problem) -> tuple[list[str], str]:
    """Recompute (answers, label) from ALL context facts with the interval solver.

    Needs ``meta["anchor"]`` (index of the question's event fact), as written by the synthetic
    generator; the asked relation and subject come from ``meta``.
    """
    facts = [parse_fact(c) for c in problem.context]
    anchor = facts[problem.meta["anchor"]]
    hits = cotemporal_answers(
        anchor,
        [f for f in facts if f],
        problem.meta["triple_element"],
        problem.meta["relation"],
        problem.meta.get("asked_subject"),
    )
    return sorted({a for _, a, _ in hits}), label_of([r for _, _, r in hits])


# --------------------------------------------------------------------------- native files

_FIELDS = {"index": int, "triple_element": str, "question": str, "facts": list, "answer": list}


def parse_row(obj: object, relation: str, *, file: str, line: int) -> Problem | None:
    """One native JSON object -> Problem (split ``train`` until split); None if no fact matches.

    Raises
    ------
    DatasetFormatError
        On a missing/ill-typed field, naming file, line and field.
    """
    if not isinstance(obj, dict):
        raise DatasetFormatError(
            file=file,
            line=line,
            field="<row>",
            value=obj,
            fix="Each line of a CoTempQA file is one JSON object.",
        )
    for key, typ in _FIELDS.items():
        if not isinstance(obj.get(key), typ):
            raise DatasetFormatError(
                file=file,
                line=line,
                field=key,
                value=obj.get(key),
                fix=f"CoTempQA rows need {key!r} of type {typ.__name__} (fields: {list(_FIELDS)}).",
            )
    if obj["triple_element"] not in TRIPLES:
        raise DatasetFormatError(
            file=file,
            line=line,
            field="triple_element",
            value=obj["triple_element"],
            fix=f"Use one of {TRIPLES}.",
        )
    for key in ("facts", "answer"):
        if not obj[key] or not all(isinstance(x, str) and x.strip() for x in obj[key]):
            raise DatasetFormatError(
                file=file,
                line=line,
                field=key,
                value=obj[key],
                fix="Give a non-empty list of non-empty strings.",
            )
    asked = asked_relation(obj["question"])
    support, rule = match_support(
        obj["facts"], obj["answer"], obj["triple_element"], asked, obj["question"]
    )
    if rule != "slot" and asked is not None:  # question wording not understood: any relation
        support, rule = match_support(
            obj["facts"], obj["answer"], obj["triple_element"], None, obj["question"]
        )
    if not support:
        return None
    return Problem(
        id=f"cotemp-{relation}-{obj['index']:05d}",
        dataset="cotemp",
        split="train",
        question=obj["question"],
        context=list(obj["facts"]),
        answers=list(obj["answer"]),
        label=relation,
        support=support,
        meta={
            "triple_element": obj["triple_element"],
            "relation": asked,
            "index": obj["index"],
            "support_rule": rule,
            "source_file": Path(file).name,
        },
    )


def read_relation_file(path: str | Path, relation: str) -> tuple[list[Problem], int]:
    """Parse one relation file; return (problems, number skipped because no fact matched)."""
    path = Path(path)
    out, skipped = [], 0
    with io.StringIO(read_text(path, DatasetFormatError)) as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise DatasetFormatError(
                    file=str(path),
                    line=n,
                    field="<json>",
                    value=raw.strip()[:80],
                    fix=f"Not valid JSON ({e.msg}); one object per line.",
                ) from None
            p = parse_row(obj, relation, file=str(path), line=n)
            if p is None:
                skipped += 1
            else:
                out.append(p)
    return out, skipped


def finish(problems: list[Problem], cfg: DataConfig, seed: int) -> list[Problem]:
    """Split 20% test per relation (seeded; the reference used pandas ``random_state=42``), cap."""
    key = lambda p: p.label  # noqa: E731
    train, test = split_per_group(problems, key, 0.2, derive_rng(seed, "cotemp", "split"))
    train = sample_stratified(train, key, cfg.n_train, derive_rng(seed, "cotemp", "train"))
    test = sample_stratified(test, key, cfg.n_test, derive_rng(seed, "cotemp", "test"))
    return [replace(p, split="train") for p in train] + [replace(p, split="test") for p in test]


def load_folder(folder: Path, cfg: DataConfig, seed: int) -> list[Problem]:
    """Load every ``{relation}.json`` present in ``folder`` (at least one), split and cap."""
    problems: list[Problem] = []
    for rel in LABELS:
        path = Path(folder) / f"{rel}.json"
        if path.exists():
            rows, skipped = read_relation_file(path, rel)
            if skipped:
                log.warning("%s: skipped %d problem(s) whose answer matches no fact", path, skipped)
            problems += rows
    if not problems:
        raise DatasetFormatError(
            file=str(folder),
            line=None,
            field="<files>",
            value=None,
            fix="Put CoTempQA files named equal.json, overlap.json, "
            "during.json and/or mix.json in this folder.",
        )
    return finish(problems, cfg, seed)


def load_hub(cfg: DataConfig, seed: int) -> list[Problem]:
    """Download the four native files of ``Warrieryes/CotempQA`` at a pinned commit, load them."""
    from huggingface_hub import hf_hub_download

    revision = resolve_revision(HUB_REPO, cfg.revision or HUB_REVISION)
    paths = [
        hf_hub_download(HUB_REPO, f"{rel}.json", repo_type="dataset", revision=revision)
        for rel in LABELS
    ]
    folder = Path(paths[0]).parent
    return load_folder(folder, cfg, seed)


# --------------------------------------------------------------- the dataset's entry (spec.py)

#: The gold classification-step labels: the temporal relation of the two events (section 2.1).
LABELS = ("equal", "overlap", "during", "mix")
LABEL_SENTENCE = "The temporal relation between the event in question and the event in context is: "
RETRIEVAL_SENTENCE = "I need to use the following facts to answer the question: "


def user_prompt(p: Problem) -> str:
    """The user turn: the facts as a list repr, then the question."""
    return f"{INSTRUCTION}{p.context!r}\nQuestion: {p.question} Only return the answer.\n"


def answer_format(p: Problem) -> str:
    """CoTemp targets write the whole gold list as a list repr (PAPER_NOTES 2.1)."""
    return repr(list(p.answers))


def anchor_index(problem: Problem) -> int | None:
    """Index of the question's own event fact (the CoTemp *anchor*), or None.

    The synthetic generator records it (``meta["anchor"]``); on real CoTemp it is the first
    non-support fact whose subject and object are both named in the question. bAbI and MARCO
    have no anchor. The anchor is never answer-bearing: the answers co-occur with it.

    Examples
    --------
    >>> p = Problem(id="a", dataset="cotemp", split="test", label="equal", support=[1],
    ...     question="While Ann worked for Acme, which school did Ann attend?",
    ...     context=["Ann works for Acme from 2001 to 2003.", "Ann attended Uni in 2002."],
    ...     answers=["Uni"], meta={"triple_element": "S1_R2_O2"})
    >>> anchor_index(p)
    0
    """
    if problem.dataset != "cotemp":
        return None
    if isinstance(problem.meta.get("anchor"), int):
        return problem.meta["anchor"]
    q = f" {normalize_text(problem.question)} "
    for i, text in enumerate(problem.context):
        f = parse_fact(text) if i not in problem.support else None
        if f and all(f" {normalize_text(x)} " in q for x in (f.subject, f.object)):
            return i
    return None
