"""Pinned hub revisions (issue 10 item 4): passed to the hub, in the cache key and the manifest.

No network: ``datasets.load_dataset``, ``huggingface_hub.hf_hub_download`` and
``HfApi.dataset_info`` are monkeypatched; ``spec.hub_reachable`` is the only offline guard.
"""

from __future__ import annotations

import json
import shutil
import types
from pathlib import Path

import pytest

from tracekd_core import hub
from tracekd_core.config import DataConfig, dump
from tracekd_core.datasets import babi, cotemp, make_problems, marco, source_fingerprint, spec
from tracekd_core.errors import ConfigError
from tracekd_core.experiment import grid

FIX = Path(__file__).parent / "fixtures" / "datasets"
SHA = "a" * 40


@pytest.fixture
def online(monkeypatch):
    """Pretend the hub is reachable; record every ``dataset_info`` call."""
    calls: list[str] = []

    def dataset_info(self, repo, **kw):
        calls.append(repo)
        return types.SimpleNamespace(sha=SHA)

    import huggingface_hub

    hub._resolve_main.cache_clear()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(spec, "hub_reachable", lambda dataset, host="huggingface.co": None)
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    yield calls
    hub._resolve_main.cache_clear()


def _babi_story() -> dict:
    return {
        "id": ["1", "2", "3"],
        "type": [0, 0, 1],
        "text": ["Mary moved to the bathroom.", "John went to the hallway.", "Where is Mary?"],
        "answer": ["", "", "bathroom"],
        "supporting_ids": [[], [], ["1"]],
    }


def test_babi_hub_passes_the_revision(online, monkeypatch):
    import datasets

    seen = []

    def load_dataset(repo, name, revision=None, **kw):
        seen.append((repo, name, revision))
        return {s: [{"story": _babi_story()}] * 3 for s in ("train", "test")}

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    problems = make_problems(DataConfig(dataset="babi", source="hub", revision="b" * 40), 0)
    assert problems and {r for _, _, r in seen} == {"b" * 40}
    assert {repo for repo, _, _ in seen} == {babi.HUB_REPO} and len(seen) == len(babi.TASKS)
    assert online == []  # an explicit revision is never resolved


def test_marco_hub_resolves_main_once_and_passes_the_sha(online, monkeypatch):
    import datasets

    files = {"train": "train.jsonl", "validation": "validation.json"}
    seen = []

    def load_dataset(repo, config, split=None, revision=None, **kw):
        seen.append((repo, config, split, revision))
        return [row for _, row in marco.iter_rows(FIX / "marco" / files[split])]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    cfg = DataConfig(dataset="marco", source="hub", n_train=1, n_test=1)
    assert cfg.revision is None and marco.HUB_REVISION is None
    make_problems(cfg, 0)
    assert [s[3] for s in seen] == [SHA, SHA]
    assert source_fingerprint(cfg) == {"hub_repo": marco.HUB_REPO, "hub_revision": SHA}
    assert online == [marco.HUB_REPO]  # resolved once per process


def test_cotemp_hub_downloads_at_the_revision(online, monkeypatch, tmp_path):
    import huggingface_hub

    seen = []

    def download(repo, filename, repo_type=None, revision=None, **kw):
        seen.append((repo, filename, repo_type, revision))
        shutil.copy(FIX / "cotemp" / filename, tmp_path / filename)
        return str(tmp_path / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    make_problems(DataConfig(dataset="cotemp", source="hub", revision="c" * 40), 0)
    assert len(seen) == 4 and {s[3] for s in seen} == {"c" * 40}
    assert {s[2] for s in seen} == {"dataset"} and {s[0] for s in seen} == {cotemp.HUB_REPO}


def test_revision_changes_the_key_and_is_recorded(online, monkeypatch, tmp_path):
    import datasets

    monkeypatch.setattr(
        datasets,
        "load_dataset",
        lambda repo, name, revision=None, **kw: {
            s: [{"story": _babi_story()}] * 3 for s in ("train", "test")
        },
    )
    a = DataConfig(dataset="babi", source="hub", revision="1" * 40)
    b = DataConfig(dataset="babi", source="hub", revision="2" * 40)
    main = DataConfig(dataset="babi", source="hub")
    dirs = {grid.data_dir(tmp_path, c, 0) for c in (a, b, main)}
    assert len(dirs) == 3
    path = grid.build_problems(tmp_path, a, 0)
    manifest = json.loads((path.parent / "config.json").read_text())
    assert manifest["data"]["revision"] == "1" * 40
    assert manifest["source"] == {"hub_repo": babi.HUB_REPO, "hub_revision": "1" * 40}
    assert source_fingerprint(main)["hub_revision"] == SHA  # main resolved, not the word "main"


def test_unset_revision_keeps_non_hub_keys_and_needs_hub():
    assert "revision" not in dump(DataConfig(dataset="babi"))  # synthetic cache keys unchanged
    with pytest.raises(ValueError, match="only applies to source 'hub'"):
        DataConfig(dataset="babi", revision=SHA)


def test_offline_hub_fails_fast_in_the_key_too(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        grid.data_dir(tmp_path, DataConfig(dataset="marco", source="hub"), 0)


def test_unresolvable_main_is_a_named_error(monkeypatch):
    import huggingface_hub

    def boom(self, repo, **kw):
        raise OSError("no route")

    hub._resolve_main.cache_clear()
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", boom)
    with pytest.raises(ConfigError, match="Set data.revision"):
        hub.resolve_revision("x/y", None)
    hub._resolve_main.cache_clear()
