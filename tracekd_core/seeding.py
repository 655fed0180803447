"""One seed, explicit generators (STYLE 5).

Every stochastic function takes an ``rng``; ``derive_rng`` gives each stage its own independent,
reproducible stream from the run seed and a stage key, so adding a draw in one stage never shifts
another stage's randomness.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit integer seed derived from ``seed`` and ``keys``.

    Examples
    --------
    >>> derive_seed(0, "corrupt") == derive_seed(0, "corrupt")
    True
    >>> derive_seed(0, "corrupt") != derive_seed(1, "corrupt")
    True
    """
    h = hashlib.sha256(repr((int(seed),) + tuple(str(k) for k in keys)).encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


def derive_rng(seed: int, *keys: object) -> random.Random:
    """A ``random.Random`` seeded by ``derive_seed(seed, *keys)``.

    Examples
    --------
    >>> derive_rng(3, "a").random() == derive_rng(3, "a").random()
    True
    """
    return random.Random(derive_seed(seed, *keys))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (if importable) before building a model or adapter.

    TRL wraps PEFT before the Trainer seeds, so this must run before the model is loaded.
    """
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass
