"""Verifiably incorrect traces: the corruption registry (paper 3, "incorrect traces").

A corruption replaces what a trace states at one or both steps and never touches the gold
answer. Each entry of ``registry.CORRUPTIONS`` is a ``Corruption``, callable as
``corruption(problem, rng, *, pool=None) -> CorruptedTrace``; ``corrupt_all`` applies one to a
list of problems with ``rng = derive_rng(seed, "corrupt", name, problem.id)`` per problem (adding
a problem never shifts another problem's draw) and checks every output with
``check_corrupted``, so a corrupted trace that happens to be right is an error, never data.

========== ===================================================================================
name       rule (ours)
========== ===================================================================================
label      a uniformly random *different* label of the dataset; support kept gold
retrieval  ``len(support)`` non-supporting context items (capped by availability), in context
           order; label kept gold
both       label + retrieval (the reference's "incorrect traces")
swap       label and support texts of *another* problem of the same dataset whose support
           texts differ (a seeded derangement: every trace is used exactly once)
========== ===================================================================================

Non-supporting items exclude the gold support, any item whose text equals a gold support text,
and (CoTemp, MARCO) any item mentioning a gold answer (case-insensitive, word-bounded), so the
stated support is verifiably not the gold one. If nothing is left, the trace states the empty
list ``[]`` (still wrong: every gold support is non-empty) and a warning counts such problems.

How the reference differs (PAPER_NOTES 3): Python ``random`` was never seeded; CoTemp used
*one* random fact not containing a gold answer (case-sensitive), rendered as a bare string not a
list (``[]`` if none); bAbI sampled ``len(support)`` non-supporting sentences but lower-cased
them; MARCO used one random passage sharing < 8 whitespace tokens with the answer. The R1-set
"swapped" control used a derangement of an unseeded ``random.shuffle``.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..datasets.cotemp import anchor_index
from ..errors import ConfigError, RecordError, TraceFormatError
from ..records import Problem
from ..registry import CORRUPTIONS, DATASETS
from ..seeding import derive_rng
from .stated import StatedTrace

log = logging.getLogger(__name__)

#: Datasets whose gold support is defined by the answer, so answer-bearing items are excluded
#: from retrieval distractors (bAbI support is the supporting-fact ids instead).
EXCLUDE_ANSWER_BEARING: dict[str, bool] = {"cotemp": True, "babi": False, "marco": True}


class CorruptedTrace(StatedTrace):
    """A ``StatedTrace`` that is wrong at its corruption's steps (gold answer unchanged)."""


@dataclass(frozen=True)
class Corruption:
    """A named corruption.

    Parameters
    ----------
    name : str
        Registry name.
    wrong : tuple of str
        Steps (``"label"``, ``"retrieval"``) the corruption makes verifiably wrong.
    kept : tuple of str
        Steps it keeps gold.
    fn : callable
        ``fn(problem, rng, pool) -> CorruptedTrace``.
    plan : callable or None
        ``plan(problems, seed) -> {id: pool}``: per-problem donor pools for ``corrupt_all``
        (``swap`` uses it to build a derangement over the whole set).
    """

    name: str
    wrong: tuple[str, ...]
    kept: tuple[str, ...]
    fn: Callable[[Problem, random.Random, Sequence[Problem] | None], CorruptedTrace]
    plan: Callable[[Sequence[Problem], int], dict[str, list[Problem]]] | None = None

    def __call__(
        self, problem: Problem, rng: random.Random, *, pool: Sequence[Problem] | None = None
    ) -> CorruptedTrace:
        return self.fn(problem, rng, pool)


def wrong_label(problem: Problem, rng: random.Random) -> str:
    """A uniformly random label of ``problem``'s dataset other than the gold one.

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="train", question="Q?",
    ...             context=["A works for B.", "A works for C."], answers=["B"],
    ...             label="equal", support=[0])
    >>> wrong_label(p, random.Random(0)) in {"overlap", "during", "mix"}
    True
    """
    return rng.choice([x for x in DATASETS.get(problem.dataset).labels if x != problem.label])


def _mentions(text: str, answers: Sequence[str]) -> bool:
    return any(
        re.search(rf"(?<!\w){re.escape(a.strip())}(?!\w)", text, re.IGNORECASE)
        for a in answers
        if a.strip()
    )


def distractors(problem: Problem, rng: random.Random) -> list[int]:
    """Indices of ``len(support)`` random non-supporting context items (sorted; maybe empty).

    Never the CoTemp anchor (the question's own event fact, ``datasets.cotemp.anchor_index``): a
    corrupted retrieval step stating the anchor would state a fact the question itself names.

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="train", question="Q?",
    ...             context=["A works for B.", "A works for C.", "A works for b in 2001."],
    ...             answers=["B"], label="equal", support=[0])
    >>> distractors(p, random.Random(0))  # item 2 mentions the answer (case-insensitively)
    [1]
    """
    gold_text = set(problem.support_text)
    skip_answers = EXCLUDE_ANSWER_BEARING[problem.dataset]
    anchor = anchor_index(problem)  # the question's own event fact is never a distractor
    pool = [
        i
        for i, c in enumerate(problem.context)
        if i not in problem.support
        and i != anchor
        and (anchor is None or c != problem.context[anchor])
        and c not in gold_text
        and not (skip_answers and _mentions(c, problem.answers))
    ]
    k = min(len(problem.support), len(pool))
    if k == 0:
        log.debug("%s: no non-supporting context item; stating the empty support", problem.id)
    return sorted(rng.sample(pool, k))


def _label(problem: Problem, rng: random.Random, pool) -> CorruptedTrace:
    return CorruptedTrace(wrong_label(problem, rng), list(problem.support), problem.support_text)


def _retrieval(problem: Problem, rng: random.Random, pool) -> CorruptedTrace:
    idx = distractors(problem, rng)
    return CorruptedTrace(problem.label, idx, [problem.context[i] for i in idx])


def _both(problem: Problem, rng: random.Random, pool) -> CorruptedTrace:
    label = wrong_label(problem, rng)
    idx = distractors(problem, rng)
    return CorruptedTrace(label, idx, [problem.context[i] for i in idx])


def _valid_donor(problem: Problem, donor: Problem) -> bool:
    return (
        donor.id != problem.id
        and donor.dataset == problem.dataset
        and set(donor.support_text) != set(problem.support_text)
    )


def _swap(problem: Problem, rng: random.Random, pool) -> CorruptedTrace:
    if pool is None:
        raise ConfigError(
            f"corruption 'swap' of {problem.id!r} needs pool= (candidate donor "
            "problems); corrupt_all passes each problem its derangement donor."
        )
    donors = [d for d in pool if _valid_donor(problem, d)]
    if not donors:
        raise RecordError(
            file=None,
            line=None,
            field="pool",
            value=[d.id for d in pool][:10],
            fix=f"No donor for {problem.id!r}: give problems of dataset "
            f"{problem.dataset!r} whose support texts differ from its own.",
        )
    d = rng.choice(donors)
    return CorruptedTrace(d.label, None, d.support_text, d.id)


def swap_donors(problems: Sequence[Problem], seed: int) -> dict[str, Problem]:
    """A seeded derangement: each problem gets one donor, each donor is used exactly once.

    Donors come from the same dataset and state different support texts. A uniformly random
    cyclic permutation (Sattolo) is drawn per dataset, then any pair with equal support texts is
    repaired by exchanging donors with another problem where both stay valid.

    Raises
    ------
    RecordError
        If a dataset has fewer than two problems or no valid exchange exists.

    Examples
    --------
    >>> ps = [Problem(id=f"b{i}", dataset="babi", split="train", question="Where is X?",
    ...               context=[f"X went to room {i}."], answers=[f"{i}"],
    ...               label="single-supporting-fact", support=[0]) for i in range(4)]
    >>> donors = swap_donors(ps, seed=0)
    >>> sorted(d.id for d in donors.values()) == sorted(p.id for p in ps)
    True
    >>> any(donors[p.id].id == p.id for p in ps)
    False
    """
    rng = derive_rng(seed, "corrupt", "swap", "derangement")
    groups: dict[str, list[Problem]] = {}
    for p in problems:
        groups.setdefault(p.dataset, []).append(p)
    out: dict[str, Problem] = {}
    for dataset in sorted(groups):
        group = groups[dataset]
        n = len(group)
        if n < 2:
            raise RecordError(
                file=None,
                line=None,
                field="problems",
                value=[p.id for p in group],
                fix=f"'swap' needs at least two {dataset!r} problems to exchange.",
            )
        keys = [frozenset(p.support_text) for p in group]

        def ok(i: int, j: int, keys=keys) -> bool:
            return i != j and keys[i] != keys[j]

        perm = list(range(n))
        for i in range(n - 1, 0, -1):  # Sattolo's algorithm: one n-cycle, so perm[i] != i
            j = rng.randrange(i)
            perm[i], perm[j] = perm[j], perm[i]
        for i in range(n):
            if ok(i, perm[i]):
                continue
            for k in rng.sample(range(n), n):
                if ok(i, perm[k]) and ok(k, perm[i]):
                    perm[i], perm[k] = perm[k], perm[i]
                    break
            else:
                raise RecordError(
                    file=None,
                    line=None,
                    field="support",
                    value=group[i].id,
                    fix="Every other problem states the same support texts; "
                    "'swap' cannot make this trace wrong. Use 'retrieval'.",
                )
        out.update({p.id: group[j] for p, j in zip(group, perm, strict=True)})
    return out


def _swap_plan(problems: Sequence[Problem], seed: int) -> dict[str, list[Problem]]:
    return {pid: [donor] for pid, donor in swap_donors(problems, seed).items()}


for _c in (
    Corruption("label", ("label",), ("retrieval",), _label),
    Corruption("retrieval", ("retrieval",), ("label",), _retrieval),
    Corruption("both", ("label", "retrieval"), (), _both),
    Corruption("swap", ("retrieval",), (), _swap, _swap_plan),
):
    CORRUPTIONS.add(_c.name, _c)


def check_corrupted(problem: Problem, trace: StatedTrace, name: str) -> None:
    """Raise unless ``trace`` is wrong at every step corruption ``name`` corrupts.

    Label step wrong: stated label != gold. Retrieval step wrong: the set of stated support
    texts != the set of gold support texts. Steps the corruption keeps must equal the gold.

    Raises
    ------
    TraceFormatError
        Naming the problem, the step and the offending stated value.

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="train", question="Q?",
    ...             context=["A works for B.", "A works for C."], answers=["B"],
    ...             label="equal", support=[0])
    >>> check_corrupted(p, StatedTrace("mix", [0], ["A works for B."]), "label")
    >>> check_corrupted(p, StatedTrace("equal", [0], ["A works for B."]), "label")
    Traceback (most recent call last):
    ...
    tracekd_core.errors.TraceFormatError: problem 'c': corruption 'label' left the label step correct (stated 'equal').
    """  # noqa: E501
    spec: Corruption = CORRUPTIONS.get(name)
    label_ok = trace.label == problem.label
    stated = trace.support_text
    retrieval_ok = stated is not None and set(stated) == set(problem.support_text)
    for step, is_ok, value in (
        ("label", label_ok, trace.label),
        ("retrieval", retrieval_ok, stated),
    ):
        if step in spec.wrong and is_ok:
            raise TraceFormatError(
                f"problem {problem.id!r}: corruption {name!r} left the "
                f"{step} step correct (stated {value!r})."
            )
        if step in spec.kept and not is_ok:
            raise TraceFormatError(
                f"problem {problem.id!r}: corruption {name!r} must keep the "
                f"{step} step gold but states {value!r}."
            )


def corrupt_all(problems: Sequence[Problem], name: str, *, seed: int) -> list[CorruptedTrace]:
    """Corrupt every problem with corruption ``name`` (deterministic in ``seed``; checked).

    Parameters
    ----------
    problems : sequence of Problem
        The problems (for ``swap`` also the donor pool).
    name : str
        A ``registry.CORRUPTIONS`` name: ``label``, ``retrieval``, ``both``, ``swap``.
    seed : int
        Problem ``p`` draws from ``derive_rng(seed, "corrupt", name, p.id)``.

    Returns
    -------
    list of CorruptedTrace
        One per problem, in order.

    Raises
    ------
    UnknownNameError
        Unknown corruption name.
    TraceFormatError
        A corrupted trace came out right at a corrupted step (a bug in the corruption).

    Examples
    --------
    >>> p = Problem(id="c", dataset="cotemp", split="train", question="Q?",
    ...             context=["A works for B.", "A works for C."], answers=["B"],
    ...             label="equal", support=[0])
    >>> t = corrupt_all([p], "retrieval", seed=0)[0]
    >>> (t.label, t.support, t.support_text)
    ('equal', [1], ['A works for C.'])
    """
    spec: Corruption = CORRUPTIONS.get(name)
    pools = spec.plan(problems, seed) if spec.plan else {}
    out = []
    for p in problems:
        trace = spec(p, derive_rng(seed, "corrupt", name, p.id), pool=pools.get(p.id))
        check_corrupted(p, trace, name)
        out.append(trace)
    n_empty = sum(t.support_text == [] for t in out)
    if n_empty:
        log.warning(
            "corruption %r: %d of %d problems have no non-supporting context item and "
            "state the empty support []",
            name,
            n_empty,
            len(out),
        )
    return out
