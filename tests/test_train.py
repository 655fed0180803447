"""Training (train.py): run folders, cache, determinism, resume, masks, CLI."""

from __future__ import annotations

import hashlib
import json

import pytest

from tracekd_core.cli import main
from tracekd_core.config import TrainConfig
from tracekd_core.errors import EmptyLossMaskError
from tracekd_core.students import train as train_mod

CFG = TrainConfig(
    student="tiny-random",
    quant="none",
    dtype="float32",
    max_steps=3,
    batch_size=2,
    grad_accum=1,
    save_steps=2,
    lr=1e-3,
    num_threads=1,
)


def _adapter_hash(run) -> str:
    from safetensors.torch import load_file

    tensors = load_file(run / "adapter" / "adapter_model.safetensors")
    h = hashlib.sha256()
    for k in sorted(tensors):
        h.update(k.encode())
        h.update(tensors[k].float().numpy().tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory, sft_path, model_cache):
    return train_mod.train(
        CFG, sft_path, runs_root=tmp_path_factory.mktemp("runs"), seed=0, cache_dir=model_cache
    )


def test_step_plan_covers_each_epoch_once_and_groups_by_length():
    lengths = [10, 50, 20, 40, 30]
    cfg = TrainConfig(batch_size=2, grad_accum=2, epochs=2)
    plan = train_mod.step_plan(lengths, cfg, seed=1)
    assert len(plan) == train_mod.total_steps(cfg, 5) == 4
    seen = [i for step in plan for mb in step for i in mb]
    assert len(seen) == 10 and sorted(seen[:5]) == sorted(seen[5:]) == list(range(5))
    for step in plan:  # micro-batches inside a step are sorted longest first
        flat = [lengths[i] for mb in step for i in mb]
        assert flat == sorted(flat, reverse=True)
    assert plan == train_mod.step_plan(lengths, cfg, seed=1)
    assert plan != train_mod.step_plan(lengths, cfg, seed=2)


def test_run_folder_contents(run, sft_path):
    for name in (
        "config.yaml",
        "manifest.json",
        "loss.jsonl",
        "adapter_card.md",
        "DONE",
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
    ):
        assert (run / name).exists(), name
    assert not (run / "checkpoint").exists()
    man = json.loads((run / "manifest.json").read_text())
    for key in (
        "git_sha",
        "packages",
        "device",
        "dtype",
        "seed",
        "timings",
        "supervised_share",
        "n_examples",
        "n_truncated",
    ):
        assert key in man, key
    assert man["n_examples"] == 3 and man["n_truncated"] == 0 and man["steps"] == 3
    assert 0 < man["supervised_share"] < 0.5
    hist = [json.loads(x) for x in (run / "loss.jsonl").read_text().splitlines()]
    assert [h["step"] for h in hist] == [1, 2, 3]
    assert all(h["loss"] > 0 and "lr" in h for h in hist)
    adapter_cfg = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == 16 and adapter_cfg["lora_alpha"] == 32
    assert set(adapter_cfg["target_modules"]) == set(train_mod.LORA_TARGETS)
    assert "tiny-random" in (run / "adapter_card.md").read_text()


def test_finished_run_is_not_redone(run, sft_path, model_cache, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a finished run must not load the model again")

    monkeypatch.setattr(train_mod, "load_student", boom)
    assert (
        train_mod.train(CFG, sft_path, runs_root=run.parent.parent, seed=0, cache_dir=model_cache)
        == run
    )


def test_same_seed_same_adapter_other_seed_differs(run, sft_path, tmp_path, model_cache):
    again = train_mod.train(CFG, sft_path, runs_root=tmp_path / "a", seed=0, cache_dir=model_cache)
    other = train_mod.train(CFG, sft_path, runs_root=tmp_path / "b", seed=1, cache_dir=model_cache)
    assert _adapter_hash(again) == _adapter_hash(run)
    assert _adapter_hash(other) != _adapter_hash(run)


def test_killed_run_resumes_from_its_checkpoint(run, sft_path, tmp_path, model_cache, monkeypatch):
    calls = {"n": 0}
    real = train_mod._optimizer_step

    def dies_at_step_3(*a):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        real(*a)

    monkeypatch.setattr(train_mod, "_optimizer_step", dies_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        train_mod.train(CFG, sft_path, runs_root=tmp_path, seed=0, cache_dir=model_cache)
    d = next((tmp_path / "train").iterdir())
    assert (d / "checkpoint" / "state.pt").exists() and not (d / "DONE").exists()
    monkeypatch.setattr(train_mod, "_optimizer_step", real)
    resumed = train_mod.train(CFG, sft_path, runs_root=tmp_path, seed=0, cache_dir=model_cache)
    assert resumed == d and (d / "DONE").exists()
    man = json.loads((d / "manifest.json").read_text())
    assert man["resumed_from_step"] == 2
    assert [json.loads(x)["step"] for x in (d / "loss.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert _adapter_hash(resumed) == _adapter_hash(run)


def test_empty_mask_is_refused(sft_path, tmp_path, model_cache):
    cfg = CFG.model_copy(update={"max_length": 40})
    with pytest.raises(EmptyLossMaskError, match="empty loss mask"):
        train_mod.train(cfg, sft_path, runs_root=tmp_path, cache_dir=model_cache)
    assert not list(tmp_path.rglob("DONE"))


def test_full_loss_supervises_more(run, sft_path, tmp_path, model_cache):
    cfg = CFG.model_copy(update={"loss": "full", "max_steps": 1})
    d = train_mod.train(cfg, sft_path, runs_root=tmp_path, cache_dir=model_cache)
    share = json.loads((d / "manifest.json").read_text())["supervised_share"]
    assert share > 0.99 > json.loads((run / "manifest.json").read_text())["supervised_share"]


def test_qlora_nf4_trains(sft_path, tmp_path, model_cache):
    pytest.importorskip("bitsandbytes")
    cfg = CFG.model_copy(update={"quant": "nf4", "dtype": "bfloat16", "max_steps": 1})
    d = train_mod.train(cfg, sft_path, runs_root=tmp_path, cache_dir=model_cache)
    man = json.loads((d / "manifest.json").read_text())
    assert man["quant"] == "nf4" and (d / "DONE").exists()


def test_config_file_and_cli(sft_path, tmp_path, capsys, model_cache):
    conf = tmp_path / "train.yaml"
    conf.write_text(
        f"sft: {sft_path}\nseed: 3\ntrain:\n  student: tiny-random\n  max_steps: 1\n"
        "  dtype: float32\n  quant: none\n  batch_size: 2\n  grad_accum: 1\n"
    )
    cfg, run_keys = train_mod.load_train_config(conf, loss="full")
    assert cfg.max_steps == 1 and cfg.loss == "full" and run_keys["seed"] == 3
    rc = main(["train", "--config", str(conf), "--out", str(tmp_path / "runs" / "exp")])
    out = capsys.readouterr().out.strip().splitlines()[-1]
    run = next((tmp_path / "runs" / "exp").iterdir())
    assert rc == 0 and out == str(run) and (run / "DONE").exists()
    assert main(["train", "--student", "tiny-random", "--out", str(tmp_path)]) == 2


@pytest.mark.timeout(120)
def test_empty_sft_file_is_a_named_error_not_a_hang(tmp_path, model_cache):
    """Issue 10.3: ``step_plan([])`` used to loop forever on an empty SFT file."""
    from tracekd_core.errors import EmptyInputError

    empty = tmp_path / "sft.jsonl"
    empty.write_text("")
    with pytest.raises(EmptyInputError, match="holds no record"):
        train_mod.train(CFG, empty, runs_root=tmp_path / "runs", cache_dir=model_cache)
    assert not list(tmp_path.rglob("DONE"))


class _Planted:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create ``marker`` when unpickled


def test_planted_checkpoint_does_not_run_code(tmp_path):
    """Issue 10.5: ``torch.load(weights_only=False)`` ran whatever a planted state.pt held."""
    import torch

    from tracekd_core.errors import InconsistentRunError

    marker = tmp_path / "pwned"
    (tmp_path / "checkpoint").mkdir()
    torch.save({"step": 1, "x": _Planted(str(marker))}, tmp_path / "checkpoint" / "state.pt")
    with pytest.raises(InconsistentRunError, match="Delete the folder"):
        train_mod._load_checkpoint(tmp_path, None, None, None)
    assert not marker.exists()


def test_torn_loss_history_line_does_not_block_resume(
    run, sft_path, tmp_path, model_cache, monkeypatch
):
    """Issue 10.6: a torn last line of loss.jsonl used to crash the resume (JSONDecodeError)."""
    real = train_mod._optimizer_step
    calls = {"n": 0}

    def dies_at_step_3(*a):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        real(*a)

    monkeypatch.setattr(train_mod, "_optimizer_step", dies_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        train_mod.train(CFG, sft_path, runs_root=tmp_path, seed=0, cache_dir=model_cache)
    d = next((tmp_path / "train").iterdir())
    with (d / "loss.jsonl").open("a") as fh:
        fh.write('{"step": 3, "lo')
    monkeypatch.setattr(train_mod, "_optimizer_step", real)
    train_mod.train(CFG, sft_path, runs_root=tmp_path, seed=0, cache_dir=model_cache)
    assert [json.loads(x)["step"] for x in (d / "loss.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert _adapter_hash(d) == _adapter_hash(run)


def test_adapter_files_are_process_independent(run, model_cache):
    """Issue 10.9: target_modules order changed per process; README held the cache path."""
    from tracekd_core.students.train import LORA_TARGETS

    conf = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert conf["target_modules"] == sorted(LORA_TARGETS)
    readme = run / "adapter" / "README.md"
    if readme.exists():
        assert str(model_cache.resolve()) not in readme.read_text()


def test_training_changes_the_adapter_weights(run):
    """LoRA starts with B = 0 (the adapter is a no-op); 3 optimiser steps must move every B.

    If the optimiser never stepped (lr 0, frozen adapter, empty loss mask...), the saved
    adapter would still be the identity and this fails.
    """
    from safetensors.torch import load_file

    tensors = load_file(run / "adapter" / "adapter_model.safetensors")
    b = {k: t for k, t in tensors.items() if "lora_B" in k}
    assert b, f"no lora_B tensors in {sorted(tensors)[:4]}"
    unchanged = [k for k, t in b.items() if not t.float().abs().sum() > 0]
    assert unchanged == []
    losses = [json.loads(x)["loss"] for x in (run / "loss.jsonl").read_text().splitlines()]
    assert len(losses) == CFG.max_steps
