"""Offline synthetic CoTemp QA: a seeded knowledge base of time-stamped relations (section 2.1).

Each problem is built around an *anchor* event ("While X worked for Y, ..."): answer facts are
drawn with a chosen time relation to the anchor (equal / during / overlap; ``mix`` combines
several), distractor facts are drawn freely and kept only if the interval solver
(``cotemp.cotemporal_answers``) says they do not change the answer set. The gold answers, the
support and the label are then *computed* by that solver over the structured facts, never by
string matching. Facts use CoTempQA's sentence templates (``cotemp.VERBS``) and its date formats
("2001", "March, 2015"); questions use one template per (relation, triple element) with the same
"at the same time" ending for every label, so the label must be read off the facts' dates.
"""

from __future__ import annotations

import calendar
import random

from tqdm.auto import tqdm

from ..config import DataConfig
from ..records import Problem
from ..seeding import derive_rng
from .cotemp import TRIPLES, VERBS, Fact, cotemporal_answers, label_of
from .split import synthetic_labels

# Name tables are kept compact (one item per line would add ~100 lines of names).
# fmt: off
PERSON_RELATIONS = ("P39", "P102", "P69", "P108", "P54", "P488", "P6")
R1_TRIPLES = ("S1_R1_O2", "S2_R1_O1", "S2_R1_O2")
FIRST = ("Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kira", "Lars", "Maya", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tara",
         "Umar", "Vera", "Willem", "Xenia", "Yusuf", "Zora", "Anton", "Beatriz", "Cyril", "Dalia")
LAST = ("Abbas", "Berg", "Castillo", "Dufour", "Eklund", "Fischer", "Galli", "Haas", "Ivanova",
        "Jensen", "Kovac", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quist", "Rossi",
        "Sato", "Tanaka", "Ueda", "Varga", "Wagner", "Yilmaz", "Zeller", "Almeida", "Bauer",
        "Costa", "Dimitrov", "Esposito")
PLACES = ("Northbridge", "Almora", "Kelvin", "Westmark", "Oakridge", "Lindale", "Marlow", "Ravens",
          "Sunvale", "Elmstead", "Corvia", "Ashby", "Brenna", "Dunmore", "Fairhaven", "Glenrock",
          "Halden", "Irvale", "Juniper", "Kestrel", "Lorne", "Mirefield", "Norvik", "Pellham")
#: Object kinds per relation: an object is "<place> <kind>" (positions: "<title> of <domain>").
KINDS = {
    "P102": ("Liberal Union", "Green Alliance", "Reform League", "Civic Front", "Labour Congress",
             "Unity Movement", "Agrarian Union", "Democratic Forum"),
    "P69": ("University", "College", "Institute of Technology", "Academy", "Polytechnic"),
    "P108": ("Bank", "Observatory", "Museum", "Hospital", "Research Centre", "Library", "Press"),
    "P54": ("F.C.", "Rovers", "United", "Athletic", "Wanderers", "Rangers"),
    "P488": ("Rowing Club", "Chamber of Commerce", "Arts Council", "Rail Company", "Trust"),
    "P6": ("City Council", "Province", "District", "County", "Region"),
    "P127": ("Holdings", "Group", "Capital", "Partners", "Industries"),
    "company": ("Records", "Pictures", "Airways", "Mills", "Brewery", "Telecom", "Motors"),
}
TITLES = ("Minister", "Secretary", "Director", "Governor", "Commissioner", "Treasurer", "Speaker")
DOMAINS = ("Finance", "Fisheries", "Education", "Transport", "Health", "Culture", "Energy",
           "Defence", "Tourism", "Agriculture", "Justice", "Housing", "Trade", "Science")
WHILE = {"P39": "held the position of", "P102": "was a member of the", "P69": "attended",
         "P108": "worked for", "P54": "played for", "P488": "was the chair of",
         "P6": "was the head of", "P127": "was owned by"}
ASK_OBJECT = {"P39": "which position did {s} hold", "P102": "which political party was {s} in",
              "P69": "which school did {s} attend", "P108": "which employer did {s} work for",
              "P54": "which team did {s} play for",
              "P488": "which organisation was {s} the chair of",
              "P6": "which place was {s} the head of", "P127": "who owned {s}"}
SUFFIX = " at the same time?"
KIND_WEIGHTS = {"equal": 1, "during": 1, "overlap": 1}
# fmt: on


def render_fact(f: Fact) -> str:
    """CoTempQA sentence of a fact whose start/end are *month* numbers (year * 12 + month - 1).

    Year-aligned intervals render as years ("from 2001 to 2005"), others as "Month, Year".

    Examples
    --------
    >>> render_fact(Fact("Ann Berg", "P108", "Kelvin Bank", 2001 * 12, 2005 * 12 + 11))
    'Ann Berg works for Kelvin Bank from 2001 to 2005.'
    >>> render_fact(Fact("Kelvin Mills", "P127", "Ashby Group", 2001 * 12 + 2, 2001 * 12 + 2))
    'Kelvin Mills is owned by Ashby Group in March, 2001.'
    """
    verb = VERBS[f.relation][0]
    s, e = f.start, f.end
    if s % 12 == 0 and e % 12 == 11:
        a, b = str(s // 12), str(e // 12)
    else:
        a = f"{calendar.month_name[s % 12 + 1]}, {s // 12}"
        b = f"{calendar.month_name[e % 12 + 1]}, {e // 12}"
    when = f"in {a}" if a == b else f"from {a} to {b}"
    return f"{f.subject} {verb} {f.object} {when}."


def _months(f: Fact, unit: int) -> Fact:
    """Units -> months (monotone, so every time relation is preserved)."""
    return Fact(f.subject, f.relation, f.object, f.start * unit, f.end * unit + unit - 1)


class _Builder:
    """Draws names, objects and intervals for one problem (all from one ``rng``)."""

    def __init__(self, rng: random.Random, unit: int):
        self.rng, self.unit = rng, unit
        self.used: set[str] = set()
        self.gap = 10 if unit == 12 else 60

    def fresh(self, draw) -> str:
        for _ in range(100):
            name = draw()
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("entity pool exhausted")  # pragma: no cover - pools are large

    def person(self) -> str:
        return self.fresh(lambda: f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}")

    def subject(self, relation: str) -> str:
        if relation == "P127":
            kinds = KINDS["company"]
            return self.fresh(lambda: f"{self.rng.choice(PLACES)} {self.rng.choice(kinds)}")
        return self.person()

    def obj(self, relation: str) -> str:
        if relation == "P39":
            return self.fresh(lambda: f"{self.rng.choice(TITLES)} of {self.rng.choice(DOMAINS)}")
        return self.fresh(lambda: f"{self.rng.choice(PLACES)} {self.rng.choice(KINDS[relation])}")

    def anchor_time(self, point: bool) -> tuple[int, int]:
        lo, hi = (1950, 2015) if self.unit == 12 else (1950 * 12, 2015 * 12)
        a0 = self.rng.randint(lo, hi)
        if point:
            return a0, a0
        return a0, a0 + self.rng.randint(*((3, 12) if self.unit == 12 else (12, 96)))

    def time(self, a: tuple[int, int], kind: str | None) -> tuple[int, int]:
        """An interval with time relation ``kind`` to ``a`` (None = disjoint)."""
        r, (a0, a1), g = self.rng, a, self.gap
        if kind == "equal":
            return a
        if kind == "overlap" and a1 == a0:  # a point cannot be partially overlapped
            kind = "during"
        if kind == "during":
            if a1 - a0 >= 2 and r.random() < 0.5:  # contained in the anchor
                b0 = r.randint(a0 + 1, a1 - 1)
                return b0, r.randint(b0, a1)
            return a0 - r.randint(1, g), a1 + r.randint(0, g)  # contains the anchor
        if kind == "overlap":
            if r.random() < 0.5:
                return a0 - r.randint(1, g), r.randint(a0, a1 - 1)
            return r.randint(a0 + 1, a1), a1 + r.randint(1, g)
        if r.random() < 0.5:
            b1 = a0 - r.randint(1, g)
            return b1 - r.randint(0, g), b1
        b0 = a1 + r.randint(1, g)
        return b0, b0 + r.randint(0, g)


def _answer_kinds(label: str, rng: random.Random) -> list[str]:
    if label != "mix":
        return [label] * (2 if rng.random() < 0.2 else 1)
    first = rng.sample(list(KIND_WEIGHTS), 2)
    return first + ([rng.choice(list(KIND_WEIGHTS))] if rng.random() < 0.3 else [])


def make_problem(
    label: str, rng: random.Random, *, pid: str, split: str, n_distractors: int
) -> Problem:
    """One synthetic CoTemp problem with the given label (gold computed by the interval solver).

    Examples
    --------
    >>> p = make_problem("overlap", random.Random(0), pid="x", split="test", n_distractors=4)
    >>> p.label, len(p.context) >= 6, p.meta["triple_element"] in TRIPLES
    ('overlap', True, True)
    """
    triple = rng.choice(TRIPLES)
    r1 = rng.choice(PERSON_RELATIONS + ("P127",) if triple in R1_TRIPLES else PERSON_RELATIONS)
    asked = r1 if "_R1_" in triple else rng.choice([r for r in PERSON_RELATIONS if r != r1])
    b = _Builder(rng, unit=rng.choice((1, 12)))
    point = label == "equal" and rng.random() < 0.5
    a_subj, a_obj = b.subject(r1), b.obj(r1)
    at = b.anchor_time(point)
    anchor = Fact(a_subj, r1, a_obj, *at)
    if triple == "S2_R1_O1":
        asked_subject = None
        answers = [
            Fact(b.subject(r1), r1, a_obj, *b.time(at, k)) for k in _answer_kinds(label, rng)
        ]
    else:
        asked_subject = a_subj if triple.startswith("S1") else b.subject(asked)
        answers = [
            Fact(asked_subject, asked, b.obj(asked), *b.time(at, k))
            for k in _answer_kinds(label, rng)
        ]
    facts = [anchor, *answers]
    goal = cotemporal_answers(anchor, facts, triple, asked, asked_subject)
    others = [r for r in PERSON_RELATIONS if r != asked]
    tries = 0
    while len(facts) < 1 + len(answers) + n_distractors and tries < 50 * (n_distractors + 1):
        tries += 1
        form = rng.random()
        if form < 0.4:  # hard negative: the asked key, at a disjoint time
            if triple == "S2_R1_O1":
                cand = Fact(b.subject(r1), r1, a_obj, *b.time(at, None))
            else:
                cand = Fact(asked_subject, asked, b.obj(asked), *b.time(at, None))
        elif form < 0.7 and r1 != "P127":  # the answer's or anchor's subject, another relation
            rel = rng.choice(others)
            who = asked_subject or rng.choice([a.subject for a in answers])
            cand = Fact(
                rng.choice([who, a_subj]),
                rel,
                b.obj(rel),
                *b.time(at, rng.choice([None, "overlap", "during"])),
            )
        else:  # the anchor's relation, another object, any time
            cand = Fact(b.subject(r1), r1, b.obj(r1), *b.time(at, rng.choice([None, "during"])))
        if cotemporal_answers(anchor, [*facts, cand], triple, asked, asked_subject) == goal:
            facts.append(cand)
    order = list(range(len(facts)))
    rng.shuffle(order)
    facts = [facts[i] for i in order]
    hits = cotemporal_answers(anchor, facts, triple, asked, asked_subject)
    if label_of([k for _, _, k in hits]) != label:  # pragma: no cover - guarded by construction
        raise RuntimeError(f"synthetic cotemp problem {pid}: solver label differs from {label}")
    return Problem(
        id=pid,
        dataset="cotemp",
        split=split,
        question=_question(triple, r1, asked, anchor, asked_subject),
        context=[render_fact(_months(f, b.unit)) for f in facts],
        answers=list(dict.fromkeys(a for _, a, _ in hits)),
        label=label,
        support=[i for i, _, _ in hits],
        meta={
            "triple_element": triple,
            "relation": asked,
            "anchor": facts.index(anchor),
            "asked_subject": asked_subject,
            "time_relations": [k for _, _, k in hits],
            "support_rule": "generator",
        },
    )


def _question(triple: str, r1: str, asked: str, anchor: Fact, asked_subject: str | None) -> str:
    head = f"While {anchor.subject} {WHILE[r1]} {anchor.object}, "
    if triple == "S2_R1_O1":
        who = "what else" if r1 == "P127" else "who else"
        return f"{head}{who} {WHILE[r1]} {anchor.object}{SUFFIX}"
    return head + ASK_OBJECT[asked].format(s=asked_subject) + SUFFIX


def generate(cfg: DataConfig, seed: int, sizes: tuple[int, int]) -> list[Problem]:
    """``sizes = (n_train, n_test)`` synthetic problems; labels follow ``cfg.label_weights``.

    Problem ``i`` of a split depends only on (seed, split, i, its label), so ids are stable.
    """
    out: list[Problem] = []
    for split, n in zip(("train", "test"), sizes, strict=True):
        labels = synthetic_labels("cotemp", split, n, cfg.label_weights, seed)
        for i, label in enumerate(tqdm(labels, desc=f"cotemp {split}", disable=None)):
            out.append(
                make_problem(
                    label,
                    derive_rng(seed, "cotemp", split, i),
                    split=split,
                    pid=f"cotemp-syn-{split}-{i:05d}",
                    n_distractors=cfg.n_distractors,
                )
            )
    return out
