"""Offline synthetic bAbI: a small seeded world simulation for the 11 tasks (paper section 2.2).

Each task simulates people moving between places, carrying and handing over objects, times of
day, animal kinds, colours, grid positions and sizes; it writes one story in the *native bAbI
text format* (numbered lines, ``question<TAB>answer<TAB>supporting ids``), which is then parsed by
``babi.parse_stories`` -- generator and loader share the format, so the loader is exercised on
every generated problem. Answers are computed from the simulated world state; the supporting
lines are the ones the answer follows from (checked by ``babi.solve`` in the tests).

Hard negatives (issue 9): with probability ``HARD_NEGATIVE_SHARE`` per distractor line, the
line is about the question's own entity at another time or place (the asked person's earlier
moves, the asked object's earlier handling, the asked room's other neighbours, the asked
person's other times of day) instead of an unrelated one, so a corrupted retrieval step states
plausible wrong facts, not ones sharing no word with the question. The answer is unchanged by
construction: a hard negative is never the last word on the asked state. ``basic-induction``
keeps none (as in native bAbI, the only line naming the asked animal is its support).
"""

from __future__ import annotations

import random

from tqdm.auto import tqdm

from ..config import DataConfig
from ..records import Problem
from ..seeding import derive_rng
from .babi import NUMBERS, SPECIES, TASK_IDS, TIMES, parse_stories, to_problem
from .split import synthetic_labels

PEOPLE = ("Mary", "John", "Daniel", "Sandra", "Jeff", "Julie", "Bill", "Fred")
ROOMS = ("bathroom", "hallway", "kitchen", "garden", "office", "bedroom")
TOWN = ("park", "school", "cinema", "office", "kitchen", "bedroom")
OBJECTS = ("football", "apple", "milk")
MOVE = ("moved to the", "went to the", "journeyed to the", "travelled to the", "went back to the")
GRAB = ("picked up", "got", "grabbed", "took")
DROP = ("dropped", "discarded", "put down", "left")
GIVE = ("gave", "handed", "passed")
ANIMALS = ("Gertrude", "Winona", "Jessica", "Emily", "Lily", "Bernhard", "Greg", "Julius", "Brian")
KINDS16 = ("swan", "lion", "frog", "rhino")
COLOURS = ("white", "green", "yellow", "gray")
SHAPES = ("triangle", "red square", "blue square", "pink rectangle", "red sphere", "yellow square")
SIZES = ("chocolate", "box of chocolates", "chest", "suitcase", "container", "box")
DIRS = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
POS = {"to the left of": (-1, 0), "to the right of": (1, 0), "above": (0, 1), "below": (0, -1)}

Story = tuple[list[str], str, str, list[int]]  # lines, question, answer, support (0-based)

#: Share of distractor lines turned into hard negatives (the question's entity, another
#: time/place). Before, ~62% of retrieval distractors shared no content word with the question.
HARD_NEGATIVE_SHARE = 0.6


def _moves(n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    pairs = [(rng.choice(PEOPLE), rng.choice(ROOMS)) for _ in range(n)]
    return [(w, r, f"{w} {rng.choice(MOVE)} {r}.") for w, r in pairs]


def _hard_moves(lines: list[tuple], who: str, last: int, rng: random.Random) -> list[tuple]:
    """Lines before ``last`` become, at ``HARD_NEGATIVE_SHARE``, ``who``'s earlier moves."""
    out = list(lines)
    for i in range(last):
        if rng.random() < HARD_NEGATIVE_SHARE:
            room = rng.choice(ROOMS)
            out[i] = (who, room, f"{who} {rng.choice(MOVE)} {room}.")
    return out


def _later(lines: list[tuple], last: int, rng: random.Random) -> int:
    """Move line ``last`` (the asked person's last one) to a random later position, at
    ``HARD_NEGATIVE_SHARE``, leaving more room for hard negatives before it; its new index."""
    if rng.random() >= HARD_NEGATIVE_SHARE:
        return last
    j = rng.randrange(last, len(lines))
    lines.insert(j, lines.pop(last))
    return j


def qa1(rng: random.Random, n: int) -> Story:
    lines = _moves(n + 1, rng)
    who = lines[-1][0] if rng.random() < 0.3 else rng.choice([w for w, _, _ in lines])
    last = max(i for i, (w, _, _) in enumerate(lines) if w == who)
    last = _later(lines, last, rng)
    lines = _hard_moves(lines, who, last, rng)  # earlier moves of who: the answer stays
    return [t for _, _, t in lines], f"Where is {who}?", lines[last][1], [last]


def qa12(rng: random.Random, n: int) -> Story:
    lines = []
    for _ in range(n + 1):
        a, b = rng.sample(PEOPLE, 2)
        room = rng.choice(ROOMS)
        lines.append(((a, b), room, f"{a} and {b} {rng.choice(MOVE[:2])} {room}."))
    who = rng.choice(rng.choice(lines)[0])
    last = _later(lines, max(i for i, (ws, _, _) in enumerate(lines) if who in ws), rng)
    for i in range(last):  # hard negatives: who's earlier joint moves (the answer stays)
        if who not in lines[i][0] and rng.random() < HARD_NEGATIVE_SHARE:
            other = rng.choice([w for w in PEOPLE if w != who])
            room = rng.choice(ROOMS)
            lines[i] = ((who, other), room, f"{who} and {other} {rng.choice(MOVE[:2])} {room}.")
    return [t for _, _, t in lines], f"Where is {who}?", lines[last][1], [last]


def _carry_world(
    rng: random.Random,
    n: int,
    people: tuple[str, ...],
    focus: str | None = None,
    focus_obj: str | None = None,
):
    """Simulate moves, grabs, drops and gives; return lines and the event log.

    With ``focus``, each event is ``focus``'s at ``HARD_NEGATIVE_SHARE`` (else a random
    person's), so the asked person's moves are hard negatives of a question about them; with
    ``focus_obj`` a grab or drop handles that object at ``HARD_NEGATIVE_SHARE`` when it can,
    and (at the same rate) the story opens with someone moving, taking and leaving it: earlier
    handling of the asked object that a later event overrides.
    """

    def pick(objs: list[str]) -> str:
        if focus_obj in objs and rng.random() < HARD_NEGATIVE_SHARE:
            return focus_obj
        return rng.choice(objs)

    lines: list[str] = []
    events: list[tuple] = []  # (kind, who, obj, other)
    where: dict[str, str] = {}
    holder: dict[str, str | None] = dict.fromkeys(OBJECTS)
    if focus_obj is not None and rng.random() < HARD_NEGATIVE_SHARE:
        who, room = rng.choice(people), rng.choice(ROOMS)
        where[who] = room
        events += [("move", who, room, None), ("grab", who, focus_obj, None)]
        events.append(("drop", who, focus_obj, room))
        lines += [
            f"{who} {rng.choice(MOVE)} {room}.",
            f"{who} {rng.choice(GRAB)} the {focus_obj}.",
            f"{who} {rng.choice(DROP)} the {focus_obj}.",
        ]
    for _ in range(n + 1):
        hard = focus is not None and rng.random() < HARD_NEGATIVE_SHARE
        who = focus if hard else rng.choice(people)
        mine = [o for o, h in holder.items() if h == who]
        free = [o for o, h in holder.items() if h is None]
        r = rng.random()
        if who not in where or r < 0.35:
            room = rng.choice(ROOMS)
            where[who] = room
            events.append(("move", who, room, None))
            lines.append(f"{who} {rng.choice(MOVE)} {room}.")
        elif free and (r < 0.7 or not mine):
            obj = pick(free)
            holder[obj] = who
            events.append(("grab", who, obj, None))
            lines.append(f"{who} {rng.choice(GRAB)} the {obj}.")
        elif mine and r < 0.85:
            obj = pick(mine)
            holder[obj] = None
            events.append(("drop", who, obj, where[who]))
            lines.append(f"{who} {rng.choice(DROP)} the {obj}.")
        elif mine:
            obj, other = rng.choice(mine), rng.choice([p for p in people if p != who])
            holder[obj] = other
            events.append(("give", who, obj, other))
            lines.append(f"{who} {rng.choice(GIVE)} the {obj} to {other}.")
        else:
            room = rng.choice(ROOMS)
            where[who] = room
            events.append(("move", who, room, None))
            lines.append(f"{who} {rng.choice(MOVE)} {room}.")
    return lines, events


def qa2(rng: random.Random, n: int) -> Story | None:
    focus = rng.choice(OBJECTS)  # handled more often: its earlier events are hard negatives
    lines, ev = _carry_world(rng, max(n, 4), PEOPLE[:4], focus_obj=focus)  # grab after a move
    # objects whose last event is a grab or drop by someone with a known earlier/later move
    cands = []
    for obj in OBJECTS:
        idx = [i for i, e in enumerate(ev) if e[2] == obj and e[0] in ("grab", "drop", "give")]
        if not idx or ev[idx[-1]][0] == "give":
            continue
        k, (kind, who, _, _) = idx[-1], ev[idx[-1]]
        moves = [i for i, e in enumerate(ev) if e[0] == "move" and e[1] == who]
        if kind == "grab":  # held: where the holder is now
            m = moves[-1] if moves else None
        else:  # dropped: where the holder was when dropping
            before = [i for i in moves if i < k]
            m = before[-1] if before else None
        if m is not None:
            cands.append((obj, k, m))
    if not cands:
        return None
    if rng.random() < HARD_NEGATIVE_SHARE:  # the focus (else most-handled) object: its
        n_ev = {o: sum(e[2] == o for e in ev) + 99 * (o == focus) for o, _, _ in cands}
        cands = [c for c in cands if n_ev[c[0]] == max(n_ev.values())]  # earlier events are hard
    obj, k, m = rng.choice(cands)
    return lines, f"Where is the {obj}?", ev[m][2], sorted({k, m})


def _qa7_8(rng: random.Random, n: int, counting: bool) -> Story | None:
    who = rng.choice(PEOPLE[:4])
    lines, ev = _carry_world(rng, max(n, 4), PEOPLE[:4], focus=who)  # who's moves: hard negatives
    sup = [
        i
        for i, e in enumerate(ev)
        if (e[0] in ("grab", "drop", "give") and e[1] == who) or (e[0] == "give" and e[3] == who)
    ]
    if not sup:
        return None
    held = [o for o in _held_order(ev, who)]
    if counting:
        return lines, f"How many objects is {who} carrying?", NUMBERS[len(held)], sup
    return lines, f"What is {who} carrying?", ",".join(held) or "nothing", sup


def _held_order(ev: list[tuple], who: str) -> list[str]:
    held: list[str] = []
    for kind, a, obj, other in ev:
        if (kind == "grab" and a == who) or (kind == "give" and other == who):
            held.append(obj)
        elif kind in ("drop", "give") and a == who:
            held.remove(obj)
    return held


def qa4(rng: random.Random, n: int) -> Story:
    pos = {rng.choice(ROOMS): (0, 0)}
    lines, facts = [], []
    while len(pos) < len(ROOMS) and len(lines) < n + 1:
        b = rng.choice(list(pos))
        d = rng.choice(list(DIRS))
        xy = (pos[b][0] + DIRS[d][0], pos[b][1] + DIRS[d][1])
        if xy in pos.values():
            continue
        a = rng.choice([r for r in ROOMS if r not in pos])
        pos[a] = xy
        facts.append((a, d, b))
        lines.append(f"The {a} is {d} of the {b}.")
    k = rng.randrange(len(facts))
    if rng.random() < HARD_NEGATIVE_SHARE:  # the fact whose rooms the other facts name most
        deg = [sum(len({a, b} & {x, y}) for x, _, y in facts) for a, _, b in facts]
        k = rng.choice([i for i, v in enumerate(deg) if v == max(deg)])
    a, d, b = facts[k]
    if rng.random() < 0.5:
        return lines, f"What is {d} of the {b}?", a, [k]
    return lines, f"What is the {a} {d} of?", b, [k]


def qa14(rng: random.Random, n: int) -> Story:
    people = rng.sample(PEOPLE, 3)
    plan = {p: rng.sample(TOWN, len(TIMES)) for p in people}
    items = [(p, t) for p in people for t in range(len(TIMES))]
    rng.shuffle(items)
    who, t = people[0], rng.randrange(1, len(TIMES))
    must = [(who, t - 1), (who, t)]
    rest = [it for it in items if it not in must]
    # hard negatives: who's other times of day go first, at HARD_NEGATIVE_SHARE each
    mine = [it for it in rest if it[0] == who and rng.random() < HARD_NEGATIVE_SHARE]
    rest = mine + [it for it in rest if it not in mine]
    items = must + rest[: max(0, n - 1)]
    rng.shuffle(items)
    lines = [f"{TIMES[tt]} {p} {rng.choice(MOVE[1:4])} {plan[p][tt]}." for p, tt in items]
    sup = sorted(items.index(m) for m in must)
    return lines, f"Where was {who} before the {plan[who][t]}?", plan[who][t - 1], sup


def qa15(rng: random.Random, n: int) -> Story:
    kinds = list(SPECIES)
    fears = {k: rng.choice([x for x in kinds if x != k]) for k in kinds}
    names = rng.sample(ANIMALS, min(len(ANIMALS), max(1, n - len(kinds) + 1)))
    who = {nm: rng.choice(kinds) for nm in names}
    items = [("rule", k) for k in kinds] + [("is", nm) for nm in names]
    rng.shuffle(items)
    lines = [
        f"{SPECIES[k].capitalize()} are afraid of {SPECIES[fears[k]]}."
        if typ == "rule"
        else f"{k} is a {who[k]}."
        for typ, k in items
    ]
    q = rng.choice(names)
    sup = sorted([items.index(("is", q)), items.index(("rule", who[q]))])
    return lines, f"What is {q} afraid of?", fears[who[q]], sup


def qa16(rng: random.Random, n: int) -> Story:
    colour = dict(zip(KINDS16, rng.sample(COLOURS, len(KINDS16)), strict=True))
    names = rng.sample(ANIMALS, min(len(ANIMALS), max(3, (n + 2) // 2)))
    kind = {nm: rng.choice(KINDS16) for nm in names}
    q, twin = names[0], names[1]
    kind[twin] = kind[q]
    items = [("is", nm) for nm in names] + [("col", nm) for nm in names if nm != q]
    rng.shuffle(items)
    lines = [
        f"{nm} is a {kind[nm]}." if t == "is" else f"{nm} is {colour[kind[nm]]}." for t, nm in items
    ]
    # the question's kind must have one colour source: drop other same-kind colour lines
    keep = [
        i
        for i, (t, nm) in enumerate(items)
        if not (t == "col" and nm != twin and kind[nm] == kind[q])
    ]
    items, lines = [items[i] for i in keep], [lines[i] for i in keep]
    sup = sorted(items.index(x) for x in (("is", q), ("is", twin), ("col", twin)))
    return lines, f"What color is {q}?", colour[kind[q]], sup


def qa17(rng: random.Random, n: int) -> Story:
    a, b, c, *rest = rng.sample(SHAPES, len(SHAPES))
    pos = {b: (0, 0)}
    facts = []
    for new in (a, c):
        while True:
            base = rng.choice(list(pos))
            rel = rng.choice(list(POS))
            xy = (pos[base][0] + POS[rel][0], pos[base][1] + POS[rel][1])
            if xy not in pos.values():
                pos[new] = xy
                facts.append(f"The {new} is {rel} the {base}.")
                break
    lines, sup = list(facts), [0, 1]
    if n >= 2 and len(rest) >= 2:  # an unrelated pair as distraction
        lines.insert(rng.randrange(3), f"The {rest[0]} is {rng.choice(list(POS))} the {rest[1]}.")
        sup = [i for i, s in enumerate(lines) if s in facts]
    x, y = rng.sample([a, b, c], 2)
    rel = rng.choice(list(POS))
    along = (pos[x][0] - pos[y][0]) * POS[rel][0] + (pos[x][1] - pos[y][1]) * POS[rel][1]
    return lines, f"Is the {x} {rel} the {y}?", "yes" if along > 0 else "no", sup


def qa18(rng: random.Random, n: int) -> Story:
    order = rng.sample(SIZES, len(SIZES))  # small -> big
    x, y = sorted(rng.sample(range(len(order)), 2))
    mid = [i for i in range(x + 1, y)]
    chain = [x] + ([rng.choice(mid)] if mid and rng.random() < 0.6 else []) + [y]

    def say(small: int, big: int) -> str:
        if rng.random() < 0.5:
            return f"The {order[big]} is bigger than the {order[small]}."
        return f"The {order[small]} fits inside the {order[big]}."

    facts = [say(s, b) for s, b in zip(chain, chain[1:], strict=False)]
    extra = []
    for _ in range(max(0, n - len(facts) + 1)):
        s, b = sorted(rng.sample(range(len(order)), 2))
        if s == x or b == y:
            continue  # keep other proofs about x/y out of the story
        line = say(s, b)
        if line not in facts + extra:
            extra.append(line)
    lines = facts + extra
    rng.shuffle(lines)
    sup = sorted(lines.index(f) for f in facts)
    small, big = order[x], order[y]
    if rng.random() < 0.5:
        return lines, f"Does the {small} fit in the {big}?", "yes", sup
    return lines, f"Does the {big} fit in the {small}?", "no", sup


TASK_GENERATORS = {
    "single-supporting-fact": qa1,
    "two-supporting-facts": qa2,
    "two-arg-relations": qa4,
    "counting": lambda r, n: _qa7_8(r, n, True),
    "lists-sets": lambda r, n: _qa7_8(r, n, False),
    "conjunction": qa12,
    "time-reasoning": qa14,
    "basic-deduction": qa15,
    "basic-induction": qa16,
    "positional-reasoning": qa17,
    "size-reasoning": qa18,
}


def story_text(story: Story) -> str:
    """One story in native bAbI text (statement lines, then the question line).

    Examples
    --------
    >>> story_text((["Mary went to the hallway."], "Where is Mary?", "hallway", [0])).splitlines()
    ['1 Mary went to the hallway.', '2 Where is Mary?\\thallway\\t1']
    """
    lines, q, a, sup = story
    body = "".join(f"{i} {s}\n" for i, s in enumerate(lines, start=1))
    ids = " ".join(str(i + 1) for i in sup)
    return body + f"{len(lines) + 1} {q}\t{a}\t{ids}\n"


def make_story(task: str, rng: random.Random, n_distractors: int) -> str:
    """Native text of one story of ``task`` with about ``n_distractors`` extra lines."""
    for _ in range(100):
        story = TASK_GENERATORS[task](rng, n_distractors)
        if story is not None:
            return story_text(story)
    raise RuntimeError(f"could not simulate a {task} story")  # pragma: no cover


def generate(cfg: DataConfig, seed: int, sizes: tuple[int, int]) -> list[Problem]:
    """``sizes = (n_train, n_test)`` synthetic bAbI problems (ids ``babi-syn-{split}-{i}``)."""
    out: list[Problem] = []
    for split, n in zip(("train", "test"), sizes, strict=True):
        labels = synthetic_labels("babi", split, n, cfg.label_weights, seed)
        for i, task in enumerate(tqdm(labels, desc=f"babi {split}", disable=None)):
            text = make_story(task, derive_rng(seed, "babi", split, i), cfg.n_distractors)
            (q,) = parse_stories(text, file=f"<synthetic babi {split} {i}>")
            p = to_problem(q, TASK_IDS[task], split, f"babi-syn-{split}-{i:05d}", "<synthetic>")
            out.append(p)
    return out
