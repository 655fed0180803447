"""bAbI QA: native text loader and per-task solver (paper section 2.2).

Native format (``qa{N}_{name}_{train,test}.txt``): numbered lines, numbering restarting at 1 for
each new story; a question line is ``N question?<TAB>answer<TAB>supporting line ids``. A problem
is one question: context = the story's statement lines before it (original casing, which the
reference lower-cased), support = the positions of its supporting lines in that context,
label = the task name. The reference kept only the first question of each story (default here
too; ``DataConfig.every_question`` keeps them all).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import DataConfig
from ..errors import DatasetFormatError
from ..hub import resolve_revision
from ..records import Problem, read_text
from ..seeding import derive_rng
from .spec import CATEGORY_SENTENCE, INSTRUCTION
from .split import sample_per_group, sample_stratified

log = logging.getLogger(__name__)

#: The reference's 11 tasks: task id -> task name (= classification label).
#: Hugging Face dataset repo of ``source: hub``.
HUB_REPO = "facebook/babi_qa"
#: Its default commit (``None``: ``main`` resolved to its SHA at load time, see ``hub.py``).
HUB_REVISION: str | None = None

TASKS: dict[int, str] = {
    1: "single-supporting-fact",
    2: "two-supporting-facts",
    4: "two-arg-relations",
    7: "counting",
    8: "lists-sets",
    12: "conjunction",
    14: "time-reasoning",
    15: "basic-deduction",
    16: "basic-induction",
    17: "positional-reasoning",
    18: "size-reasoning",
}
TASK_IDS = {name: n for n, name in TASKS.items()}


@dataclass(frozen=True)
class Question:
    """One parsed bAbI question with the story lines before it."""

    story: int
    number: int
    question: str
    answer: str
    context: list[str]
    support: list[int]


def parse_stories(
    text: str, *, file: str = "<text>", every_question: bool = False
) -> list[Question]:
    """Parse bAbI native text into questions (first of each story unless ``every_question``).

    Raises
    ------
    DatasetFormatError
        On a line without its number, a broken question line, a numbering gap or a supporting
        id that is not an earlier statement line of the same story.

    Examples
    --------
    >>> text = ("1 Mary moved to the bathroom.\\n2 John went to the hallway.\\n"
    ...         "3 Where is Mary?\\tbathroom\\t1\\n1 Sandra went to the garden.\\n"
    ...         "2 Where is Sandra?\\tgarden\\t1\\n")
    >>> [(q.story, q.answer, q.support) for q in parse_stories(text)]
    [(0, 'bathroom', [0]), (1, 'garden', [0])]
    """
    out: list[Question] = []
    story, prev = -1, 0
    ids: dict[int, int] = {}
    lines: list[str] = []
    asked = 0
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        m = re.match(r"(\d+) (.*)$", raw)
        if not m:
            raise DatasetFormatError(
                file=file,
                line=n,
                field="line_number",
                value=raw[:80],
                fix="Each bAbI line starts with its number and a space.",
            )
        num, body = int(m.group(1)), m.group(2)
        if num == 1:
            story, ids, lines, asked = story + 1, {}, [], 0
        elif num != prev + 1:
            raise DatasetFormatError(
                file=file,
                line=n,
                field="line_number",
                value=num,
                fix=f"Expected {prev + 1} (or 1 to start a new story).",
            )
        prev = num
        if "\t" not in body:
            ids[num] = len(lines)
            lines.append(body.strip())
            continue
        parts = body.split("\t")
        if len(parts) < 3 or not parts[0].strip() or not parts[1].strip():
            raise DatasetFormatError(
                file=file,
                line=n,
                field="question",
                value=body[:80],
                fix="A question line is 'N question?<TAB>answer<TAB>ids'.",
            )
        try:
            sup = [int(x) for x in parts[2].split()]
        except ValueError:
            raise DatasetFormatError(
                file=file,
                line=n,
                field="supporting_ids",
                value=parts[2],
                fix="Supporting ids are space-separated integers.",
            ) from None
        bad = [s for s in sup if s not in ids]
        if not sup or bad:
            raise DatasetFormatError(
                file=file,
                line=n,
                field="supporting_ids",
                value=parts[2],
                fix=f"Ids must name earlier statement lines of the story (valid: {sorted(ids)}).",
            )
        if every_question or asked == 0:
            out.append(
                Question(
                    story,
                    asked,
                    parts[0].strip(),
                    parts[1].strip(),
                    list(lines),
                    sorted(ids[s] for s in set(sup)),
                )
            )
        asked += 1
    return out


def to_problem(q: Question, task_id: int, split: str, pid: str, file: str) -> Problem:
    """A parsed question -> Problem (label = the task name)."""
    return Problem(
        id=pid,
        dataset="babi",
        split=split,
        question=q.question,
        context=q.context,
        answers=[q.answer],
        label=TASKS[task_id],
        support=q.support,
        meta={
            "task": TASKS[task_id],
            "task_id": task_id,
            "story": q.story,
            "question_number": q.number,
            "source_file": file,
        },
    )


def read_task_file(
    path: str | Path, task_id: int, split: str, every_question: bool
) -> list[Problem]:
    """All problems of one native task file (ids ``babi-qa{N}-{split}-{story}[-q{k}]``)."""
    path = Path(path)
    qs = parse_stories(
        read_text(path, DatasetFormatError), file=str(path), every_question=every_question
    )
    return [
        to_problem(
            q,
            task_id,
            split,
            f"babi-qa{task_id}-{split}-{q.story:05d}" + (f"-q{q.number}" if every_question else ""),
            path.name,
        )
        for q in qs
    ]


def _find(folder: Path, task_id: int, split: str) -> Path | None:
    hits = sorted(folder.glob(f"qa{task_id}_*_{split}.txt"))
    return hits[0] if hits else None


def load_folder(folder: Path, cfg: DataConfig, seed: int) -> list[Problem]:
    """Load the 11 tasks' train/test files from ``folder`` (missing tasks are skipped, logged).

    Test = a seeded 10% sample of each task's test questions (the reference's unseeded rule)
    unless ``cfg.n_test`` is given (then a stratified sample of that size); ``cfg.n_train`` caps
    the train split the same way.
    """
    train: list[Problem] = []
    test: list[Problem] = []
    for task_id in TASKS:
        paths = {s: _find(Path(folder), task_id, s) for s in ("train", "test")}
        if not all(paths.values()):
            log.warning(
                "%s: no qa%d_*_{train,test}.txt pair; task %s skipped",
                folder,
                task_id,
                TASKS[task_id],
            )
            continue
        train += read_task_file(paths["train"], task_id, "train", cfg.every_question)
        test += read_task_file(paths["test"], task_id, "test", cfg.every_question)
    if not train and not test:
        raise DatasetFormatError(
            file=str(folder),
            line=None,
            field="<files>",
            value=None,
            fix="Put bAbI files named qa{N}_{task}_{train,test}.txt here.",
        )
    return finish(train, test, cfg, seed)


def finish(train: list[Problem], test: list[Problem], cfg: DataConfig, seed: int) -> list[Problem]:
    """Cap/sample the two splits (seeded; labels kept in proportion)."""
    key = lambda p: p.label  # noqa: E731
    if cfg.n_test is None:
        rng = derive_rng(seed, "babi", "test")
        per_task = {lab: round(0.1 * n) for lab, n in _counts(test).items()}
        test = [
            p
            for lab in per_task
            for p in sample_per_group(
                [p for p in test if p.label == lab], key, max(1, per_task[lab]), rng
            )
        ]
    else:
        test = sample_stratified(test, key, cfg.n_test, derive_rng(seed, "babi", "test"))
    train = sample_stratified(train, key, cfg.n_train, derive_rng(seed, "babi", "train"))
    return [replace(p, split="train") for p in train] + [replace(p, split="test") for p in test]


def _counts(problems: list[Problem]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in problems:
        out[p.label] = out.get(p.label, 0) + 1
    return out


def load_hub(cfg: DataConfig, seed: int) -> list[Problem]:
    """``facebook/babi_qa`` (config ``en-qa{N}``) at a pinned commit, as native text, parsed."""
    from datasets import load_dataset

    revision = resolve_revision(HUB_REPO, cfg.revision or HUB_REVISION)
    train: list[Problem] = []
    test: list[Problem] = []
    for task_id in TASKS:
        ds = load_dataset(HUB_REPO, f"en-qa{task_id}", revision=revision)
        for split, sink in (("train", train), ("test", test)):
            text = "".join(_hub_story_text(row["story"]) for row in ds[split])
            name = f"hub:{HUB_REPO}@{revision}/en-qa{task_id}/{split}"
            qs = parse_stories(text, file=name, every_question=cfg.every_question)
            sink += [
                to_problem(
                    q,
                    task_id,
                    split,
                    f"babi-qa{task_id}-{split}-{q.story:05d}"
                    + (f"-q{q.number}" if cfg.every_question else ""),
                    name,
                )
                for q in qs
            ]
    return finish(train, test, cfg, seed)


def _hub_story_text(story: dict) -> str:
    """One HF ``story`` (columns id/type/text/answer/supporting_ids) as native bAbI text."""
    out = []
    for i, typ, text, ans, sup in zip(
        story["id"],
        story["type"],
        story["text"],
        story["answer"],
        story["supporting_ids"],
        strict=True,
    ):
        out.append(f"{i} {text}\t{ans}\t{' '.join(sup)}" if typ == 1 else f"{i} {text}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- solver

NUMBERS = ("none", "one", "two", "three", "four", "five", "six")
SPECIES = {"mouse": "mice", "sheep": "sheep", "wolf": "wolves", "cat": "cats"}
TIMES = ("Yesterday", "This morning", "This afternoon", "This evening")
GRAB = r"(?:picked up|got|grabbed|took)"
DROP = r"(?:dropped|discarded|put down|left)"
GIVE = r"(?:gave|handed|passed)"


def _last_word(line: str) -> str:
    return line.rstrip(".").split()[-1]


def _carrying(person: str, lines: list[str]) -> list[str]:
    held: list[str] = []
    for line in lines:
        if m := re.match(rf"{person} {GRAB} the (\w+)\.", line):
            held.append(m.group(1))
        elif m := re.match(rf"{person} (?:{DROP} the (\w+)|{GIVE} the (\w+) to \w+)\.", line):
            held.remove(m.group(1) or m.group(2))
        elif m := re.match(rf"\w+ {GIVE} the (\w+) to {person}\.", line):
            held.append(m.group(1))
    return held


def _position(lines: list[str], question: str) -> str:
    rel = {"to the left of": (-1, 0), "to the right of": (1, 0), "above": (0, 1), "below": (0, -1)}
    pos: dict[str, tuple[int, int]] = {}
    parsed = [
        re.match(r"The (.+?) is (to the left of|to the right of|above|below) the (.+)\.", s)
        for s in lines
    ]
    for _ in parsed:  # propagate coordinates along the statements
        for m in parsed:
            a, (dx, dy), b = m.group(1), rel[m.group(2)], m.group(3)
            if not pos:
                pos[b] = (0, 0)
            if b in pos and a not in pos:
                pos[a] = (pos[b][0] + dx, pos[b][1] + dy)
            elif a in pos and b not in pos:
                pos[b] = (pos[a][0] - dx, pos[a][1] - dy)
    q = re.match(r"Is the (.+?) (to the left of|to the right of|above|below) the (.+)\?", question)
    (dx, dy), a, b = rel[q.group(2)], pos[q.group(1)], pos[q.group(3)]
    along = (a[0] - b[0]) * dx + (a[1] - b[1]) * dy
    return "yes" if along > 0 else "no"


def _fits(lines: list[str], question: str) -> str:
    smaller: dict[str, set[str]] = {}  # x -> things x is smaller than
    for s in lines:
        if m := re.match(r"The (.+?) is bigger than the (.+)\.", s):
            smaller.setdefault(m.group(2), set()).add(m.group(1))
        elif m := re.match(r"The (.+?) fits inside the (.+)\.", s):
            smaller.setdefault(m.group(1), set()).add(m.group(2))

    def below(x: str, y: str) -> bool:
        todo, seen = [x], set()
        while todo:
            cur = todo.pop()
            for nxt in smaller.get(cur, ()):
                if nxt == y:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    q = re.match(r"Does the (.+?) fit in the (.+)\?", question)
    return "yes" if below(q.group(1), q.group(2)) else "no"


def solve(problem: Problem) -> list[str]:
    """Recompute the answer from the supporting lines and the question alone, per task.

    Examples
    --------
    >>> p = Problem(id="x", dataset="babi", split="test", question="What is Greg afraid of?",
    ...             context=["Greg is a wolf.", "Mice are afraid of cats.",
    ...                      "Wolves are afraid of mice."], answers=["mouse"],
    ...             label="basic-deduction", support=[0, 2])
    >>> solve(p)
    ['mouse']
    """
    lines, q, task = problem.support_text, problem.question, problem.label
    if task in ("single-supporting-fact", "conjunction", "two-supporting-facts"):
        moves = [s for s in lines if " to the " in s and not re.search(GIVE, s)]
        return [_last_word(moves[-1])]
    if task == "two-arg-relations":
        m = re.match(r"What is (north|south|east|west) of the (\w+)\?", q)
        for s in lines:
            f = re.match(r"The (\w+) is (north|south|east|west) of the (\w+)\.", s)
            if m and f.group(2) == m.group(1) and f.group(3) == m.group(2):
                return [f.group(1)]
            if not m and f.group(1) == re.match(r"What is the (\w+)", q).group(1):
                return [f.group(3)]
        return []
    if task in ("counting", "lists-sets"):
        person = re.search(r"(?:is|objects is) (\w+) carrying\?", q).group(1)
        held = _carrying(person, lines)
        if task == "counting":
            return [NUMBERS[len(held)]]
        return [",".join(held) if held else "nothing"]
    if task == "time-reasoning":
        m = re.match(r"Where was (\w+) before the (\w+)\?", q)
        visits = sorted(
            (TIMES.index(t), _last_word(s))
            for s in lines
            for t in TIMES
            if s.startswith(t) and f" {m.group(1)} " in s
        )
        places = [p for _, p in visits]
        return [places[places.index(m.group(2)) - 1]]
    if task == "basic-deduction":
        who = re.match(r"What is (\w+) afraid of\?", q).group(1)
        kind = next(_last_word(s) for s in lines if s.startswith(f"{who} is a"))
        rule = next(s for s in lines if s.lower().startswith(f"{SPECIES[kind]} are afraid"))
        plural = _last_word(rule)
        return [next(k for k, v in SPECIES.items() if v == plural)]
    if task == "basic-induction":
        who = re.match(r"What color is (\w+)\?", q).group(1)
        kind = next(_last_word(s) for s in lines if s.startswith(f"{who} is a "))
        twins = {s.split()[0] for s in lines if s.endswith(f" is a {kind}.")} - {who}
        return [next(_last_word(s) for s in lines if s.split()[0] in twins and " is a " not in s)]
    if task == "positional-reasoning":
        return [_position(lines, q)]
    if task == "size-reasoning":
        return [_fits(lines, q)]
    raise KeyError(f"no bAbI solver for task {task!r}")  # pragma: no cover


# --------------------------------------------------------------- the dataset's entry (spec.py)

#: The gold classification-step labels: the task names (section 2.2).
LABELS = tuple(TASKS.values())
LABEL_SENTENCE = CATEGORY_SENTENCE
RETRIEVAL_SENTENCE = "I need to use the following text to answer the question: "


def user_prompt(p: Problem) -> str:
    """The user turn: the story one line per sentence, then the question."""
    story = "\n".join(p.context)
    return f"{INSTRUCTION}{story}\nQuestion: {p.question} Only return the answer.\n"


def answer_format(p: Problem) -> str:
    """bAbI targets write the bare first answer (PAPER_NOTES 2.2)."""
    return p.answers[0]
