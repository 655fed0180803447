"""The three open-book QA datasets: real loaders and offline synthetic generators (section 2).

``make_problems(cfg, seed)`` is the one entry point: it looks the dataset up in
``registry.DATASETS`` (filled below, one ``DatasetSpec`` per dataset) and dispatches on
``cfg.source`` -- ``"synthetic"`` (offline default), ``"hub"`` (Hugging Face, online only) or a
local folder with the native files. ``solve(problem)`` recomputes a problem's answer from its
support and question alone (an independent check of every generated problem).

Examples
--------
>>> from tracekd_core.config import DataConfig
>>> ps = make_problems(DataConfig(dataset="babi", n_train=4, n_test=2), seed=0)
>>> [p.split for p in ps].count("test"), all(solve(p) == p.answers for p in ps)
(2, True)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from ..config import DataConfig
from ..errors import RecordError
from ..hub import resolve_revision
from ..records import Problem, validate_problem
from ..registry import DATASETS
from ..runio import file_sha256
from . import babi, cotemp, marco, spec, synth_babi, synth_cotemp, synth_marco
from .spec import DatasetSpec

log = logging.getLogger(__name__)

__all__ = ["DatasetSpec", "make_problems", "solve", "spec_field"]


def _synthetic(module, name: str):
    def generate(cfg: DataConfig, seed: int) -> list[Problem]:
        return module.generate(cfg, seed, DATASETS.get(name).sizes(cfg))

    return generate


DATASETS.add(
    "cotemp",
    DatasetSpec(
        name="cotemp",
        labels=cotemp.LABELS,
        user_prompt=cotemp.user_prompt,
        label_sentence=cotemp.LABEL_SENTENCE,
        retrieval_sentence=cotemp.RETRIEVAL_SENTENCE,
        answer_format=cotemp.answer_format,
        generate=_synthetic(synth_cotemp, "cotemp"),
        load_folder=cotemp.load_folder,
        load_hub=cotemp.load_hub,
        solve=cotemp.solve,
        reference_sizes=(3798, 950),
    ),
)
DATASETS.add(
    "babi",
    DatasetSpec(
        name="babi",
        labels=babi.LABELS,
        user_prompt=babi.user_prompt,
        label_sentence=babi.LABEL_SENTENCE,
        retrieval_sentence=babi.RETRIEVAL_SENTENCE,
        answer_format=babi.answer_format,
        generate=_synthetic(synth_babi, "babi"),
        load_folder=babi.load_folder,
        load_hub=babi.load_hub,
        solve=babi.solve,
        reference_sizes=(3773, 376),
    ),
)
DATASETS.add(
    "marco",
    DatasetSpec(
        name="marco",
        labels=marco.LABELS,
        user_prompt=marco.user_prompt,
        label_sentence=marco.LABEL_SENTENCE,
        retrieval_sentence=marco.RETRIEVAL_SENTENCE,
        answer_format=marco.answer_format,
        generate=_synthetic(synth_marco, "marco"),
        load_folder=marco.load_folder,
        load_hub=marco.load_hub,
        solve=marco.solve,
        reference_sizes=(5000, 1000),
    ),
)


#: The module holding each dataset's ``HUB_REPO`` and default ``HUB_REVISION``.
HUB_MODULES = {"cotemp": cotemp, "babi": babi, "marco": marco}


def source_fingerprint(cfg: DataConfig) -> dict[str, str]:
    """What the data cache key must know about ``cfg.source`` beyond its name.

    A local folder contributes the hash of every file under it (an edited native file makes a
    new cache entry instead of silently reusing the old problems); ``synthetic`` contributes
    nothing (its generator code is already in the key); ``hub`` contributes the repo and the
    commit SHA it loads (``hub.resolve_revision``: ``DataConfig.revision``, else the module's
    ``HUB_REVISION``, else ``main`` resolved to its SHA, which needs the network).

    Raises
    ------
    ConfigError
        ``source: hub`` while offline (at once, ``spec.hub_reachable``) or unresolvable.

    Examples
    --------
    >>> source_fingerprint(DataConfig(dataset="babi"))
    {}
    """
    from pathlib import Path

    if cfg.source == "synthetic":
        return {}
    if cfg.source == "hub":
        module = HUB_MODULES[cfg.dataset]
        spec.hub_reachable(cfg.dataset)  # fail fast offline, before any hub call
        revision = resolve_revision(module.HUB_REPO, cfg.revision or module.HUB_REVISION)
        return {"hub_repo": module.HUB_REPO, "hub_revision": revision}
    folder = Path(cfg.source)
    if not folder.is_dir():
        return {}  # make_problems raises the named error
    return {
        f.relative_to(folder).as_posix(): file_sha256(f)
        for f in sorted(folder.rglob("*"))
        if f.is_file() and not any(part.startswith(".") for part in f.relative_to(folder).parts)
    }


def make_problems(cfg: DataConfig, seed: int) -> list[Problem]:
    """Both splits of ``cfg.dataset``, validated, deterministic given ``(cfg, seed)``.

    Parameters
    ----------
    cfg : DataConfig
        Which dataset, source, sizes and generator options.
    seed : int
        Data seed (generation, splits, sampling).

    Returns
    -------
    list of Problem
        Train problems first, then test; ids unique and stable.

    Raises
    ------
    ConfigError
        Bad source or label weights.
    DatasetFormatError
        Malformed native files (names file, line and field).
    RecordError
        A produced problem fails validation, or two share an id.
    """
    problems = DATASETS.get(cfg.dataset).load(cfg, seed)
    seen: set[str] = set()
    for p in problems:
        validate_problem(p, file=f"<{cfg.dataset}:{cfg.source}>")
        if p.id in seen:
            raise RecordError(
                file=f"<{cfg.dataset}:{cfg.source}>",
                line=None,
                field="id",
                value=p.id,
                fix="Ids must be unique across both splits.",
            )
        seen.add(p.id)
    n_test = sum(p.split == "test" for p in problems)
    log.info(
        "%s (%s, seed %d): %d train, %d test problems",
        cfg.dataset,
        cfg.source,
        seed,
        len(problems) - n_test,
        n_test,
    )
    return problems


def solve(problem: Problem) -> list[str]:
    """Recompute ``problem``'s answers from ``problem.context[support]`` and the question.

    Dispatches on ``problem.dataset`` through the registry (``DatasetSpec.solve``).
    """
    return DATASETS.get(problem.dataset).solve(problem)


class spec_field(Mapping[str, Any]):  # noqa: N801 (reads like the per-dataset dict it replaces)
    """Read-only ``{dataset: DatasetSpec.<field>}`` over every registered dataset, looked up on
    use (so a dataset registered later is seen too).

    Examples
    --------
    >>> spec_field("labels")["cotemp"]
    ('equal', 'overlap', 'during', 'mix')
    >>> "squad" in spec_field("labels"), sorted(spec_field("labels"))
    (False, ['babi', 'cotemp', 'marco'])
    """

    def __init__(self, field: str):
        self.field = field

    def __getitem__(self, dataset: str) -> Any:
        if dataset not in DATASETS:
            raise KeyError(dataset)
        return getattr(DATASETS.get(dataset), self.field)

    def __iter__(self) -> Iterator[str]:
        return iter(DATASETS.names())

    def __len__(self) -> int:
        return len(DATASETS.names())
