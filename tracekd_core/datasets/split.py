"""Seeded splitting, stratified sampling and label allocation (paper sections 2.1-2.3).

The reference split CoTemp 80/20 per relation with pandas ``random_state=42``, sampled bAbI's test
stories (10% per task) and MS MARCO's queries (per query type) without a seed. Here every draw
goes through an explicit ``random.Random`` (``seeding.derive_rng``), so the same (config, seed)
always yields the same split, and the label proportions are kept exactly (largest remainder).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..errors import ConfigError
from ..registry import DATASETS
from ..seeding import derive_rng

T = TypeVar("T")


def allocate(
    n: int, labels: Sequence[str], weights: dict[str, float] | None = None
) -> dict[str, int]:
    """Split ``n`` items over ``labels`` proportionally to ``weights`` (largest remainder).

    Parameters
    ----------
    n : int
        Total number of items.
    labels : sequence of str
        Label names, in a fixed order (ties go to the earlier label).
    weights : dict, optional
        Relative share per label; missing labels get 0. None = uniform.

    Returns
    -------
    dict
        ``label -> count``; counts sum to ``n``.

    Raises
    ------
    ValueError
        If a weight is negative, names an unknown label, or all weights are 0.

    Examples
    --------
    >>> allocate(10, ["a", "b", "c"])
    {'a': 4, 'b': 3, 'c': 3}
    >>> allocate(5, ["a", "b"], {"a": 3, "b": 1})
    {'a': 4, 'b': 1}
    """
    if weights is None:
        weights = {lab: 1.0 for lab in labels}
    unknown = set(weights) - set(labels)
    if unknown:
        raise ValueError(
            f"label_weights names unknown label(s) {sorted(unknown)}; use some of {list(labels)}."
        )
    w = [float(weights.get(lab, 0.0)) for lab in labels]
    if any(x < 0 for x in w) or sum(w) <= 0:
        raise ValueError(f"label_weights must be >= 0 with a positive sum, got {weights!r}.")
    total = sum(w)
    exact = [n * x / total for x in w]
    counts = [int(e) for e in exact]
    order = sorted(range(len(labels)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return dict(zip(labels, counts, strict=True))


def label_schedule(
    n: int, labels: Sequence[str], weights: dict[str, float] | None, rng: random.Random
) -> list[str]:
    """A shuffled list of ``n`` labels with exactly the ``allocate`` counts.

    Examples
    --------
    >>> sorted(label_schedule(4, ["x", "y"], None, random.Random(0)))
    ['x', 'x', 'y', 'y']
    """
    out = [lab for lab, k in allocate(n, labels, weights).items() for _ in range(k)]
    rng.shuffle(out)
    return out


def synthetic_labels(
    dataset: str, split: str, n: int, weights: dict[str, float] | None, seed: int
) -> list[str]:
    """The label schedule of one synthetic split: ``n`` of the dataset's labels, shuffled.

    The draw depends only on ``(seed, dataset, split)``, so every generator gets stable labels.

    Raises
    ------
    ConfigError
        If ``weights`` (``data.label_weights``) cannot be allocated.

    Examples
    --------
    >>> sorted(synthetic_labels("cotemp", "train", 4, None, seed=0))
    ['during', 'equal', 'mix', 'overlap']
    """
    try:
        rng = derive_rng(seed, dataset, split, "labels")
        return label_schedule(n, DATASETS.get(dataset).labels, weights, rng)
    except ValueError as e:
        raise ConfigError(f"data.label_weights: {e}") from None


def group_by(items: Sequence[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    """Group ``items`` by ``key`` keeping first-seen group order and item order.

    Examples
    --------
    >>> group_by(["ab", "c", "ad"], key=lambda s: s[0])
    {'a': ['ab', 'ad'], 'c': ['c']}
    """
    out: dict[str, list[T]] = defaultdict(list)
    for it in items:
        out[key(it)].append(it)
    return dict(out)


def split_per_group(
    items: Sequence[T], key: Callable[[T], str], test_frac: float, rng: random.Random
) -> tuple[list[T], list[T]]:
    """Seeded train/test split taking ``round(test_frac * n)`` test items from every group.

    Mirrors the reference's per-relation ``DataFrame.sample(frac=0.2)`` (which rounds half to
    even, like Python's ``round``), with our own seeded generator instead of pandas' 42.
    Items keep their input order inside each split.

    Examples
    --------
    >>> tr, te = split_per_group(list(range(10)), key=lambda i: "ab"[i % 2], test_frac=0.2,
    ...                          rng=random.Random(0))
    >>> len(tr), len(te), sorted(i % 2 for i in te)
    (8, 2, [0, 1])
    """
    test_ids: set[int] = set()
    index = {id(it): i for i, it in enumerate(items)}
    for group in group_by(items, key).values():
        k = round(test_frac * len(group))
        test_ids.update(index[id(it)] for it in rng.sample(group, k))
    train = [it for i, it in enumerate(items) if i not in test_ids]
    test = [it for i, it in enumerate(items) if i in test_ids]
    return train, test


def sample_stratified(
    items: Sequence[T], key: Callable[[T], str], n: int | None, rng: random.Random
) -> list[T]:
    """Seeded sample of ``n`` items keeping each group's share (None or n >= len: all).

    Examples
    --------
    >>> s = sample_stratified(list(range(12)), key=lambda i: "abc"[i % 3], n=6,
    ...                       rng=random.Random(1))
    >>> len(s), sorted(i % 3 for i in s)
    (6, [0, 0, 1, 1, 2, 2])
    """
    if n is None or n >= len(items):
        return list(items)
    groups = group_by(items, key)
    sizes = {g: len(v) for g, v in groups.items()}
    counts = allocate(n, list(groups), sizes)
    keep: set[int] = set()
    index = {id(it): i for i, it in enumerate(items)}
    for g, members in groups.items():
        keep.update(index[id(it)] for it in rng.sample(members, counts[g]))
    return [it for i, it in enumerate(items) if i in keep]


def sample_per_group(
    items: Sequence[T], key: Callable[[T], str], per_group: int, rng: random.Random
) -> list[T]:
    """Seeded sample of up to ``per_group`` items from every group (MARCO's per-type sampling).

    Examples
    --------
    >>> s = sample_per_group(list(range(10)), key=lambda i: "ab"[i < 3], per_group=2,
    ...                      rng=random.Random(0))
    >>> len(s)
    4
    """
    keep: set[int] = set()
    index = {id(it): i for i, it in enumerate(items)}
    for members in group_by(items, key).values():
        keep.update(index[id(it)] for it in rng.sample(members, min(per_group, len(members))))
    return [it for i, it in enumerate(items) if i in keep]
