"""Pinned Hugging Face Hub revisions of the real datasets (paper section 2; issue 10 item 4).

A ``source: hub`` dataset is loaded at one commit of its dataset repo, and that commit is part of
the data cache key, so an upstream edit of the dataset makes a new cache entry instead of being
silently mixed with the cached problems. Each dataset module names its repo and a default
revision (``HUB_REPO``, ``HUB_REVISION``); ``DataConfig.revision`` overrides it. No commit SHA
could be verified offline when this was written, so the module defaults are ``None``: ``main``
is resolved to its commit SHA at load time (``HfApi().dataset_info(repo).sha``) and that SHA is
used for the download and recorded in the key and the data folder's ``config.json``.
"""

from __future__ import annotations

import functools
import logging

from .errors import ConfigError

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=32)
def _resolve_main(repo: str) -> str:
    from huggingface_hub import HfApi

    try:
        sha = HfApi().dataset_info(repo).sha
    except Exception as e:  # noqa: BLE001 - any hub failure is one named error
        raise ConfigError(
            f"data.source = 'hub': cannot resolve the commit of dataset {repo!r} "
            f"({type(e).__name__}: {e}). Set data.revision to a commit SHA, or use a local "
            f"folder or 'synthetic'."
        ) from None
    if not sha:
        raise ConfigError(
            f"data.source = 'hub': the hub returned no commit SHA for dataset {repo!r}. "
            f"Set data.revision to a commit SHA."
        )
    log.info("hub dataset %s: main is commit %s", repo, sha)
    return sha


def resolve_revision(repo: str, revision: str | None) -> str:
    """The commit to load ``repo`` at: ``revision`` itself, or ``main``'s SHA when ``None``.

    Raises
    ------
    ConfigError
        When ``main`` cannot be resolved (offline, unknown repo, no SHA returned).

    Examples
    --------
    >>> resolve_revision("facebook/babi_qa", "0123abc")
    '0123abc'
    """
    return revision if revision else _resolve_main(repo)
