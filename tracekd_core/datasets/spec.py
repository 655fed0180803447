"""The dataset registry entry: everything the pipeline knows about one dataset, in one object.

A dataset (paper sections 2.1-2.3) is its gold label set, the user prompt, the two trace
sentences and the answer format of its targets, a synthetic generator (offline default), a loader
of the native files in a local folder, a Hugging Face Hub loader (online only) and an independent
solver. Each dataset module defines these; registering it is one
``DATASETS.add(name, DatasetSpec(...))`` line in ``datasets/__init__.py``. Config validation,
the CLI choices, record validation, prompts and trace templates all read the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import DataConfig
from ..errors import ConfigError
from ..records import Problem

#: The user-turn instruction of every dataset's prompt (reference: one template for all).
INSTRUCTION = "Answer the question based on the context:\n"
#: The reference's label-sentence prefix of the category datasets (bAbI, MARCO).
CATEGORY_SENTENCE = (
    "The category of the question represents what is being asked in that question. "
    "The category of the question asked is: "
)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """One dataset: its labels, prompt, trace sentences, loaders, generator and solver.

    Parameters
    ----------
    name : str
        Registry name (``cotemp``, ``babi``, ``marco``).
    labels : tuple of str
        The gold classification-step label set (paper section 2).
    user_prompt : callable
        ``user_prompt(problem) -> str``: the user turn (same for training and inference).
    label_sentence, retrieval_sentence : str
        Trace sentence prefixes: label sentence = prefix + label + ``.\n``, retrieval sentence
        = prefix + repr(list of support texts) (PAPER_NOTES 2.1-2.3).
    answer_format : callable
        ``answer_format(problem) -> str``: how the gold answer is written inside ``<answer>``.
    generate : callable
        ``generate(cfg, seed) -> list[Problem]``: the offline synthetic generator.
    load_folder : callable
        ``load_folder(folder, cfg, seed) -> list[Problem]``: native files in a local folder.
    load_hub : callable
        ``load_hub(cfg, seed) -> list[Problem]``: the Hugging Face Hub (needs network).
    solve : callable
        ``solve(problem) -> list[str]``: recompute the answer from the support and question.
    reference_sizes : tuple of int
        The reference study's (train, test) sizes, the default synthetic sizes.

    Examples
    --------
    >>> spec = DatasetSpec(name="toy", labels=("a", "b"), user_prompt=lambda p: p.question,
    ...     label_sentence="Label: ", retrieval_sentence="Facts: ", answer_format=lambda p: "x",
    ...     generate=lambda c, s: [], load_folder=lambda f, c, s: [], load_hub=lambda c, s: [],
    ...     solve=lambda p: [], reference_sizes=(8, 2))
    >>> spec.load(DataConfig(dataset="cotemp"), seed=0)
    []
    """

    name: str
    labels: tuple[str, ...]
    user_prompt: Callable[[Problem], str]
    label_sentence: str
    retrieval_sentence: str
    answer_format: Callable[[Problem], str]
    generate: Callable[[DataConfig, int], list[Problem]]
    load_folder: Callable[[Path, DataConfig, int], list[Problem]]
    load_hub: Callable[[DataConfig, int], list[Problem]]
    solve: Callable[[Problem], list[str]]
    reference_sizes: tuple[int, int]

    def load(self, cfg: DataConfig, seed: int) -> list[Problem]:
        """Dispatch on ``cfg.source``: ``synthetic``, ``hub`` or a local folder path.

        Raises
        ------
        ConfigError
            If ``source`` is neither keyword and not an existing folder.
        """
        if cfg.source == "synthetic":
            return self.generate(cfg, seed)
        if cfg.source == "hub":
            hub_reachable(self.name)
            return self.load_hub(cfg, seed)
        folder = Path(cfg.source)
        if not folder.is_dir():
            raise ConfigError(
                f"data.source = {cfg.source!r} is not 'synthetic', 'hub' or an "
                f"existing folder. Give the folder that holds the native "
                f"{self.name} files, or use 'synthetic' (offline default)."
            )
        return self.load_folder(folder, cfg, seed)

    def sizes(self, cfg: DataConfig) -> tuple[int, int]:
        """(n_train, n_test) for a generator: the config's values or the reference sizes.

        Examples
        --------
        >>> spec = DatasetSpec(name="toy", labels=(), user_prompt=None, label_sentence="",
        ...     retrieval_sentence="", answer_format=None, generate=None, load_folder=None,
        ...     load_hub=None, solve=None, reference_sizes=(8, 2))
        >>> spec.sizes(DataConfig(dataset="babi", n_test=5))
        (8, 5)
        """
        n_train = cfg.n_train if cfg.n_train is not None else self.reference_sizes[0]
        n_test = cfg.n_test if cfg.n_test is not None else self.reference_sizes[1]
        return n_train, n_test


def hub_reachable(dataset: str, host: str = "huggingface.co") -> None:
    """Fail fast (no minute of retries) when the Hugging Face Hub cannot be reached.

    Raises
    ------
    ConfigError
        ``HF_HUB_OFFLINE`` is set, or ``host`` does not resolve.
    """
    import os
    import socket

    fix = (
        f"Use data.source = 'synthetic' (offline default) or a folder holding the native "
        f"{dataset} files, or connect to the network."
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        raise ConfigError(f"data.source = 'hub' but HF_HUB_OFFLINE is set. {fix}")
    try:
        socket.getaddrinfo(host, 443)
    except OSError as e:
        raise ConfigError(f"data.source = 'hub' but {host} does not resolve ({e}). {fix}") from None
