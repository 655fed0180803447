"""Offline synthetic MS MARCO: passage sets over a small seeded entity base (paper section 2.3).

Every problem draws its own mini knowledge base (towns, companies, tools; with regions,
populations, founders, years and materials) and asks one question of a query type (DESCRIPTION,
NUMERIC, ENTITY, LOCATION, PERSON). Exactly one passage states the answer (``is_selected = 1``);
distractor passages talk about other entities, or are hard negatives: the same entity without the
answer, or a *namesake* (a fresh entity whose name contains the asked one: the company
"Ashford Mills" for the town "Ashford", the town "Ashford" for the company, another tool kept
beside the asked one), as real MARCO's lexically close passages; all are redrawn until none
contains the answer string. Rows are emitted in the MARCO
row format and converted by ``marco.row_to_problem``, so the loader path is exercised.
"""

from __future__ import annotations

import random
from typing import Any

from tqdm.auto import tqdm

from ..config import DataConfig
from ..records import Problem
from ..seeding import derive_rng
from .marco import row_to_problem
from .split import synthetic_labels

# Name tables are kept compact (one item per line would add ~100 lines of names).
# fmt: off
PRE = ("Ash", "Bel", "Cor", "Dun", "Elm", "Fen", "Gal", "Hol", "Ire", "Jar", "Kel", "Lor", "Mar",
       "Nor", "Ost", "Pen", "Quar", "Ros", "Sal", "Tor", "Ulm", "Ven", "Wes", "Yar")
SUF = ("ford", "ton", "bury", "vale", "mouth", "wick", "field", "haven", "stead", "moor")
REGIONS = ("Northland", "Eastmere", "Southdale", "Westreach", "Highmoor", "Lowfield",
           "Riverlands", "Coastway", "Greywater", "Sunmarch")
FIRST = ("Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kira", "Lars", "Maya", "Nils", "Olga", "Pavel", "Rosa", "Sven", "Tara", "Vera")
LAST = ("Abbas", "Berg", "Castillo", "Dufour", "Eklund", "Fischer", "Galli", "Haas", "Jensen",
        "Kovac", "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Sato", "Varga", "Wagner")
FIRMS = ("Mills", "Motors", "Foods", "Press", "Textiles", "Robotics", "Ceramics", "Shipyards")
THINGS = ("lantern", "kettle", "sextant", "loom", "trowel", "bellows", "anvil", "quill", "abacus",
          "spindle", "sieve", "ladle", "astrolabe", "chisel", "whisk", "plane")
CATEGORIES = ("tool", "device", "instrument", "utensil", "implement")
PURPOSES = ("measuring angles at sea", "spinning thread", "carrying water", "shaping wood",
            "mixing batter", "lighting a room", "writing letters", "counting beads",
            "sifting flour", "fanning a fire", "smoothing plaster", "weaving cloth")
MATERIALS = ("copper", "oak", "brass", "clay", "iron", "glass", "bamboo", "pewter", "tin",
             "ash wood")
FEATURES = ("old harbour", "spring market", "stone bridge", "river festival", "clock tower",
            "botanical garden", "rail museum", "cheese fair")
# fmt: on


class _KB:
    """A per-problem entity base; every name drawn is fresh within the problem."""

    def __init__(self, rng: random.Random):
        self.rng, self.used = rng, set()

    def fresh(self, draw) -> str:
        for _ in range(200):
            x = draw()
            if x not in self.used:
                self.used.add(x)
                return x
        raise RuntimeError("entity pool exhausted")  # pragma: no cover

    def town(self) -> str:
        return self.fresh(lambda: self.rng.choice(PRE) + self.rng.choice(SUF))

    def person(self) -> str:
        return self.fresh(lambda: f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}")

    def company(self) -> str:
        return self.fresh(
            lambda: f"{self.rng.choice(PRE)}{self.rng.choice(SUF)} {self.rng.choice(FIRMS)}"
        )

    def thing(self) -> str:
        return self.fresh(lambda: self.rng.choice(THINGS))


def _town_facts(kb: _KB, town: str) -> dict[str, str]:
    r = kb.rng
    return {
        "population": f"{town} has a population of {r.randint(1200, 980000):,} people.",
        "region": f"{town} is located in {r.choice(REGIONS)}, a region of rolling hills.",
        "feature": f"{town} is known for its {r.choice(FEATURES)}.",
        "mayor": f"The mayor of {town} is {kb.person()}.",
    }


def _company_facts(kb: _KB, company: str) -> dict[str, str]:
    r = kb.rng
    return {
        "founded": f"{company} was founded by {kb.person()} in {r.randint(1850, 2010)}.",
        "hq": f"{company} has its headquarters in {kb.town()}.",
        "staff": f"{company} employs about {r.randint(20, 9000):,} people.",
    }


def _thing_facts(kb: _KB, thing: str) -> dict[str, str]:
    r = kb.rng
    art = "An" if thing[0] in "aeiou" else "A"
    cat = r.choice(CATEGORIES)
    what = f"{'an' if cat[0] in 'aeiou' else 'a'} {cat} used for {r.choice(PURPOSES)}"
    return {
        "what": f"{art} {thing} is {what}.",
        "made": f"The {thing} is made of {r.choice(MATERIALS)} and lasts for decades.",
        "sold": f"The {thing} is often sold at the market in {kb.town()}.",
    }


#: query type -> list of (entity kind, fact key, question template, answer extractor)
QUERIES: dict[str, list[tuple[str, str, str]]] = {
    "DESCRIPTION": [("thing", "what", "what is {a} {e}")],
    "NUMERIC": [
        ("town", "population", "what is the population of {e}"),
        ("company", "founded", "what year was {e} founded"),
    ],
    "ENTITY": [("thing", "made", "what is the {e} made of")],
    "LOCATION": [
        ("town", "region", "where is {e} located"),
        ("company", "hq", "where is the headquarters of {e}"),
    ],
    "PERSON": [("company", "founded", "who founded {e}")],
}
_MAKERS = {
    "town": (_KB.town, _town_facts),
    "company": (_KB.company, _company_facts),
    "thing": (_KB.thing, _thing_facts),
}


def _answer(qtype: str, key: str, sentence: str) -> str:
    """The answer span of a fact sentence (how the generator knows its gold)."""
    if key == "what":
        return sentence.split(" is ", 1)[1].rstrip(".")
    if key == "population":
        return sentence.split("population of ")[1].split()[0]
    if key == "founded":
        by = sentence.split(" was founded by ")[1]
        return by.split(" in ")[-1].rstrip(".") if qtype == "NUMERIC" else by.rsplit(" in ", 1)[0]
    if key == "made":
        return sentence.split(" is made of ")[1].split(" and ")[0]
    if key == "region":
        return sentence.split(" is located in ")[1].split(",")[0]
    if key == "hq":
        return sentence.split(" headquarters in ")[1].rstrip(".")
    raise KeyError(key)  # pragma: no cover


#: Share of distractor draws that are hard negatives (the question's entity, other facts, or a
#: namesake); 0.25 left ~60% of retrieval distractors without a question word (issue 9), and so
#: did same-entity facts alone (only two or three distinct ones exist per problem).
HARD_NEGATIVE_SHARE = 0.6


def _namesake(kb: _KB, kind: str, entity: str) -> str | None:
    """Two facts of a fresh entity whose name contains ``entity`` (a lexical hard negative);
    ``None`` when every such name is used up in this problem.

    Examples
    --------
    >>> kb = _KB(random.Random(0))
    >>> "Ashford" in _namesake(kb, "town", "Ashford")
    True
    """
    r = kb.rng
    if kind == "thing":
        e2 = kb.thing()
        facts = _thing_facts(kb, e2)
        return f"The {e2} is often kept beside the {entity}. {facts[r.choice(['what', 'made'])]}"
    base = entity if kind == "town" else entity.rsplit(" ", 1)[0]  # a firm's town-like name
    names = [n for n in [base, *(f"{base} {f}" for f in FIRMS)] if n not in kb.used]
    if not names:
        return None
    e2 = r.choice(names)
    kb.used.add(e2)
    facts = _town_facts(kb, e2) if e2 == base else _company_facts(kb, e2)
    return " ".join(r.sample(list(facts.values()), 2))


def make_row(
    qtype: str, rng: random.Random, *, query_id: int, n_distractors: int
) -> dict[str, Any]:
    """One synthetic MARCO row (native row format) of query type ``qtype``.

    Examples
    --------
    >>> row = make_row("PERSON", random.Random(0), query_id=1, n_distractors=3)
    >>> row["query_type"], len(row["passages"]["passage_text"]), sum(row["passages"]["is_selected"])
    ('PERSON', 4, 1)
    """
    kb = _KB(rng)
    kind, key, qtemplate = rng.choice(QUERIES[qtype])
    new, facts_of = _MAKERS[kind]
    entity = new(kb)
    facts = facts_of(kb, entity)
    answer = _answer(qtype, key, facts[key])
    article = "an" if entity[0] in "aeiou" else "a"
    query = qtemplate.format(e=entity, a=article)
    others = [v for k, v in facts.items() if k != key]
    rng.shuffle(others)
    selected = " ".join([facts[key], *others[: rng.randint(0, 2)]])
    passages = [selected]
    tries = 0
    while len(passages) < 1 + n_distractors and tries < 100 * (n_distractors + 1):
        tries += 1
        if rng.random() < HARD_NEGATIVE_SHARE:  # the same entity without the answer, or a namesake
            if rng.random() < 0.5:
                text = " ".join(rng.sample(others, min(len(others), 2)))
            else:
                text = _namesake(kb, kind, entity) or " ".join(rng.sample(others, 1))
        else:
            k2 = rng.choice(list(_MAKERS))
            e2 = _MAKERS[k2][0](kb)
            fs = list(_MAKERS[k2][1](kb, e2).values())
            text = " ".join(rng.sample(fs, 2))
        if answer.lower() not in text.lower() and text not in passages:
            passages.append(text)
    order = list(range(len(passages)))
    rng.shuffle(order)
    passages = [passages[i] for i in order]
    return {
        "query": query,
        "query_id": query_id,
        "query_type": qtype,
        "passages": {
            "is_selected": [int(i == 0) for i in order],
            "passage_text": passages,
            "url": [f"http://example.org/syn/{query_id}/{j}" for j in order],
        },
        "answers": [answer],
        "wellFormedAnswers": [],
    }


def generate(cfg: DataConfig, seed: int, sizes: tuple[int, int]) -> list[Problem]:
    """``sizes = (n_train, n_test)`` synthetic MARCO problems (ids ``marco-syn-{split}-{i}``)."""
    out: list[Problem] = []
    for s, (split, n) in enumerate(zip(("train", "test"), sizes, strict=True)):
        labels = synthetic_labels("marco", split, n, cfg.label_weights, seed)
        for i, qtype in enumerate(tqdm(labels, desc=f"marco {split}", disable=None)):
            row = make_row(
                qtype,
                derive_rng(seed, "marco", split, i),
                query_id=s * 10**6 + i,
                n_distractors=cfg.n_distractors,
            )
            p = row_to_problem(
                row,
                split=split,
                pid=f"marco-syn-{split}-{i:05d}",
                support_rule=cfg.marco_support,
                file="<synthetic marco>",
                line=i + 1,
            )
            out.append(p)
    return out
