"""LoRA / QLoRA fine-tuning of a student on an SFT file: cached, resumable, reproducible runs.

Paper section 5 (QLoRA NF4 + double quantisation, LoRA r16/alpha32/dropout 0.05 on every linear
projection, lr 2e-4 cosine with warmup). Differences from the reference, on purpose:

* the loss covers the assistant trace + answer only (``loss="completion"``, masks from the recorded
  spans, see ``render.py``); ``loss="full"`` reproduces the reference's whole-text loss;
* seeds are set before the model and the adapter are built, so the same config and seed give the
  same adapter on CPU;
* the loss is a token mean over each optimiser step (all micro-batches), the LM head runs only on
  supervised positions, and micro-batches are grouped by length inside each optimiser step so
  almost no compute goes to padding. This small loop (instead of ``transformers.Trainer``) is what
  ``tracekd bench train`` measures against TRL's ``SFTTrainer``;
* every run lives in ``runs/<experiment>/<hash(config, data hash, code)>/`` with ``config.yaml``
  (written first), ``manifest.json``, ``loss.jsonl``, ``adapter/`` + ``adapter_card.md`` and
  ``DONE``; a killed run resumes from ``checkpoint/`` (adapter, optimiser, scheduler, RNG state).
"""

from __future__ import annotations

import gc
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import cpu, runio
from ..config import TrainConfig, dump
from ..errors import ConfigError
from ..seeding import derive_rng, seed_everything
from ..traces.sft import read_sft
from . import flops
from .catalog import DEFAULT_CACHE_DIR, load_student, resolve_dtype, resolve_spec
from .loss import adapters_need_autocast, lm_loss_sum, mixed_precision
from .render import IGNORE_INDEX, EncodedExample, encode_example

log = logging.getLogger(__name__)

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class EncodedSet:
    """Encoded SFT examples plus the statistics recorded in the manifest."""

    examples: list[EncodedExample]
    n_tokens: int
    n_supervised: int
    n_truncated: int

    @property
    def supervised_share(self) -> float:
        return self.n_supervised / max(1, self.n_tokens)


def encode_sft(
    records: list[dict[str, Any]],
    tokenizer: Any,
    cfg: TrainConfig,
    template_kwargs: dict[str, Any] | None = None,
    where: str = "<memory>",
) -> EncodedSet:
    """Encode every record (raises ``EmptyLossMaskError`` on the first empty mask)."""
    exs = [
        encode_example(
            r,
            tokenizer,
            loss=cfg.loss,
            max_length=cfg.max_length,
            template_kwargs=template_kwargs,
            where=where,
        )
        for r in records
    ]
    n_tok = sum(len(e) for e in exs)
    n_sup = sum(e.n_supervised for e in exs)
    n_trunc = sum(e.truncated for e in exs)
    if n_trunc:
        log.warning(
            "%d of %d examples were longer than max_length=%d and were cut",
            n_trunc,
            len(exs),
            cfg.max_length,
        )
    log.info(
        "%d examples, %d tokens, %.1f%% supervised (loss=%s)",
        len(exs),
        n_tok,
        100 * n_sup / max(1, n_tok),
        cfg.loss,
    )
    return EncodedSet(exs, n_tok, n_sup, n_trunc)


def total_steps(cfg: TrainConfig, n_examples: int) -> int:
    """Optimiser steps: ``max_steps`` if set, else ``ceil(epochs * ceil(n / (batch * accum)))``.

    An epoch's last step may hold fewer examples (no example is dropped).

    Examples
    --------
    >>> total_steps(TrainConfig(epochs=3, batch_size=4, grad_accum=4), 256)
    48
    >>> total_steps(TrainConfig(epochs=2, batch_size=2, grad_accum=2), 5)
    4
    >>> total_steps(TrainConfig(max_steps=5), 256)
    5
    """
    if cfg.max_steps is not None:
        return cfg.max_steps
    per_epoch = math.ceil(n_examples / (cfg.batch_size * cfg.grad_accum))
    return max(1, math.ceil(cfg.epochs * per_epoch))


def step_plan(lengths: list[int], cfg: TrainConfig, seed: int) -> list[list[list[int]]]:
    """Example indices per optimiser step, split into length-grouped micro-batches.

    Each epoch is a seeded shuffle; each optimiser step takes the next ``batch * accum``
    examples (so the gradient is the same as with random batches), sorts them by length and cuts
    them into micro-batches, which keeps padding small without changing what a step sees.

    Examples
    --------
    >>> plan = step_plan([5, 1, 9, 3], TrainConfig(batch_size=2, grad_accum=2, max_steps=2), 0)
    >>> [sorted(i for mb in step for i in mb) for step in plan]
    [[0, 1, 2, 3], [0, 1, 2, 3]]
    >>> all(len(mb) == 2 for step in plan for mb in step)
    True
    """
    per_step = cfg.batch_size * cfg.grad_accum
    n_steps = total_steps(cfg, len(lengths))
    order: list[int] = []
    epoch = 0
    while len(order) < n_steps * per_step:
        idx = list(range(len(lengths)))
        derive_rng(seed, "train-batches", epoch).shuffle(idx)
        # keep whole epochs aligned to steps: a short last chunk of an epoch is its own step
        order.extend(idx)
        order.extend([-1] * ((-len(idx)) % per_step))
        epoch += 1
    plan = []
    for s in range(n_steps):
        chunk = [i for i in order[s * per_step : (s + 1) * per_step] if i >= 0]
        chunk.sort(key=lambda i: (-lengths[i], i))
        plan.append([chunk[j : j + cfg.batch_size] for j in range(0, len(chunk), cfg.batch_size)])
    return plan


def collate(examples: list[EncodedExample], pad_id: int):
    """Right-padded ``input_ids`` and ``labels`` tensors (no attention mask needed: with right
    padding and a causal mask no real token ever attends to a pad)."""
    import torch

    n = max(len(e) for e in examples)
    ids = torch.full((len(examples), n), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), n), IGNORE_INDEX, dtype=torch.long)
    for r, e in enumerate(examples):
        ids[r, : len(e)] = torch.tensor(e.input_ids)
        labels[r, : len(e)] = torch.tensor(e.labels)
    return ids, labels


def _lora_config(cfg: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        bias="none",
        task_type="CAUSAL_LM",
        target_modules=list(LORA_TARGETS),
    )


def _trainable_state(model) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _save_checkpoint(d: Path, step: int, model, opt, sched) -> None:
    import torch

    ck = d / "checkpoint"
    ck.mkdir(exist_ok=True)
    state = {
        "step": step,
        "params": _trainable_state(model),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    tmp = ck / "state.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(ck / "state.pt")
    log.info("checkpoint at step %d", step)


def _load_checkpoint(d: Path, model, opt, sched) -> int:
    import torch

    path = d / "checkpoint" / "state.pt"
    if not path.exists():
        return 0
    try:
        # weights_only: a planted pickle cannot run code (tensors, dicts and numbers load fine)
        state = torch.load(path, weights_only=True)
    except Exception as e:
        from ..errors import InconsistentRunError

        raise InconsistentRunError(
            f"{path}: not a tracekd training checkpoint ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}). Delete the folder {path.parent} to "
            "restart this run from step 0."
        ) from e
    params = dict(model.named_parameters())
    with torch.no_grad():
        for k, v in state["params"].items():
            params[k].copy_(v)
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    log.info("resuming %s from step %d", d, state["step"])
    return int(state["step"])


def _normalise_adapter(adapter: Path, student: str, cache_dir: str | Path) -> None:
    """Make saved adapters byte-identical across processes and machines.

    PEFT stores ``target_modules`` as a set (its order changes with the process's hash seed)
    and may write the absolute model-cache path into ``README.md``: sort the one, replace the
    other with the student name.
    """
    import re

    cfg_path = adapter / "adapter_config.json"
    if cfg_path.exists():
        conf = json.loads(cfg_path.read_text(encoding="utf-8"))
        if isinstance(conf.get("target_modules"), list):
            conf["target_modules"] = sorted(conf["target_modules"])
        runio.atomic_write_text(cfg_path, json.dumps(conf, indent=2, sort_keys=True) + "\n")
    readme = adapter / "README.md"
    if readme.exists():
        cache = re.escape(str(Path(cache_dir).resolve()))
        text = re.sub(cache + r"[^\s\"']*", student, readme.read_text(encoding="utf-8"))
        runio.atomic_write_text(readme, text)


def _read_history(path: Path) -> list[dict[str, Any]]:
    """The loss history of a killed run; an incomplete last line (killed mid-write) is dropped."""
    if not path.exists():
        return []
    runio.drop_torn_tail(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s, line %d: unreadable loss record dropped", path, n)
    return out


def _adapter_card(cfg: TrainConfig, sft_path: Path, seed: int, man: dict[str, Any]) -> str:
    return (
        f"# LoRA adapter: {cfg.student}\n\n"
        f"Trained by tracekd (paper arXiv 2505.13792, section 5) on `{sft_path.name}` "
        f"(sha256 {man['data_sha256']}).\n\n"
        f"- student: `{cfg.student}`, quant: `{cfg.quant}`, dtype: `{cfg.dtype}`\n"
        f"- LoRA r={cfg.lora_r}, alpha={cfg.lora_alpha}, dropout={cfg.lora_dropout}, "
        f"targets: {', '.join(LORA_TARGETS)}\n"
        f"- loss: `{cfg.loss}` ({100 * man['supervised_share']:.1f}% of tokens supervised)\n"
        f"- lr {cfg.lr} cosine, warmup {cfg.warmup_ratio}, {man['steps']} steps of "
        f"{cfg.batch_size}x{cfg.grad_accum} examples, seed {seed}\n"
        f"- examples: {man['n_examples']} ({man['n_truncated']} truncated at {cfg.max_length})\n"
        f"- final loss: {man.get('final_loss')}\n\n"
        "Load with `tracekd generate --student NAME --adapter RUN_DIR` or "
        "`peft.PeftModel.from_pretrained(base, RUN_DIR / 'adapter')`.\n"
    )


def train(
    cfg: TrainConfig,
    sft_path: str | Path,
    *,
    runs_root: str | Path = "runs",
    experiment: str = "train",
    seed: int = 0,
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
) -> Path:
    """Fine-tune ``cfg.student`` on ``sft_path``; return the run folder.

    Parameters
    ----------
    cfg : TrainConfig
        Validated training config.
    sft_path : path
        SFT JSON-lines file (``tracekd traces``).
    runs_root, experiment : path, str
        The run lives in ``runs_root/experiment/<hash>``.
    seed : int
        Seeds Python, NumPy and torch before the model and adapter are built, and the batch order.
    cache_dir : path
        Model cache (embedded / tiny-random students).

    Returns
    -------
    Path
        The run folder; a finished run (``DONE``) is returned at once without work.

    Raises
    ------
    EmptyLossMaskError
        An example supervises no token.
    QuantizationUnavailableError, ModelUnavailableError
        From ``load_student``.
    """
    import torch
    from peft import get_peft_model
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    sft_path = Path(sft_path)
    records = read_sft(sft_path)
    if not records:
        from ..errors import EmptyInputError

        raise EmptyInputError(
            f"{sft_path}: the SFT file holds no record, so there is nothing to train on. "
            "Rebuild it with `tracekd traces` from a problems file with a non-empty train split."
        )
    config = {"train": dump(cfg), "seed": seed, "sft": sft_path.name}
    data_sha = runio.file_sha256(sft_path)
    d = runio.run_dir(
        runs_root, experiment, config, {"sft": data_sha}, runio.stage_fingerprint("train")
    )
    lock = runio.hold_lock(d)  # noqa: F841 (a second process waits, then finds DONE)
    if runio.is_done(d):
        log.info("run %s is done; skipping", d)
        return d
    process = cpu.tune_process(cfg.num_threads)
    t_start = time.perf_counter()
    seed_everything(seed)
    spec = resolve_spec(cfg.student)
    model, tok = load_student(cfg.student, quant=cfg.quant, dtype=cfg.dtype, cache_dir=cache_dir)
    t_loaded = time.perf_counter()
    data = encode_sft(records, tok, cfg, spec.template_kwargs, where=str(sft_path))
    attn = _attention(cfg, model)
    model.set_attn_implementation(attn)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model = get_peft_model(model, _lora_config(cfg))
    model.peft_config["default"].base_model_name_or_path = cfg.student
    model.train()
    plan = step_plan([len(e) for e in data.examples], cfg, seed)
    compute_dtype = resolve_dtype(cfg.dtype)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0
    )
    sched = get_cosine_schedule_with_warmup(opt, math.ceil(cfg.warmup_ratio * len(plan)), len(plan))
    start = _load_checkpoint(d, model, opt, sched)
    hist_path = d / "loss.jsonl"
    history = _read_history(hist_path) if start else []
    history = [h for h in history if h["step"] <= start]
    runio.atomic_write_text(hist_path, "".join(json.dumps(h) + "\n" for h in history))
    pad_id = tok.pad_token_id
    n_tok_seen = 0
    seen_lengths: list[int] = []
    n_sup_seen = 0
    t_train = time.perf_counter()
    with (
        hist_path.open("a") as hist,
        tqdm(total=len(plan), initial=start, desc="train", unit="step") as bar,
    ):
        for step in range(start, len(plan)):
            micro = plan[step]
            n_sup = sum(data.examples[i].n_supervised for mb in micro for i in mb)
            total = 0.0
            for mb in micro:
                ids, labels = collate([data.examples[i] for i in mb], pad_id)
                with mixed_precision(model, compute_dtype):
                    loss = lm_loss_sum(model, ids, labels) / n_sup
                loss.backward()
                total += float(loss.detach())
                n_tok_seen += sum(len(data.examples[i]) for i in mb)
                seen_lengths.extend(len(data.examples[i]) for i in mb)
            n_sup_seen += n_sup
            _optimizer_step(model, opt, sched)
            rec = {
                "step": step + 1,
                "loss": round(total, 6),
                "lr": sched.get_last_lr()[0],
                "supervised_tokens": n_sup,
            }
            history.append(rec)
            hist.write(json.dumps(rec) + "\n")
            hist.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{total:.3f}")
            if (step + 1) % cfg.save_steps == 0 and step + 1 < len(plan):
                _save_checkpoint(d, step + 1, model, opt, sched)
    t_end = time.perf_counter()
    model_flops = flops.lora_train_flops(flops.dims(model), seen_lengths, n_sup_seen)
    # save_embedding_layers=False: PEFT would otherwise look the base up on the hub
    model.save_pretrained(d / "adapter", save_embedding_layers=False)
    _normalise_adapter(d / "adapter", cfg.student, cache_dir)
    man = runio.base_manifest(
        seed=seed,
        device="cuda" if torch.cuda.is_available() else "cpu",
        dtype=resolve_dtype(cfg.dtype),
        extra={
            "student": cfg.student,
            "quant": cfg.quant,
            "loss": cfg.loss,
            "sft": str(sft_path),
            "data_sha256": data_sha,
            "n_examples": len(data.examples),
            "n_tokens": data.n_tokens,
            "n_supervised_tokens": data.n_supervised,
            "supervised_share": data.supervised_share,
            "n_truncated": data.n_truncated,
            "steps": len(plan),
            "resumed_from_step": start,
            "final_loss": history[-1]["loss"] if history else None,
            "torch_threads": torch.get_num_threads(),
            "adapter_compute": _adapter_compute(model, compute_dtype),
            "attn_implementation": attn,
            "process": process,
            "dtype_choice": cpu.probe_dtype() if cfg.dtype == "auto" else {"dtype": cfg.dtype},
            "timings": {
                "load_s": t_loaded - t_start,
                "train_s": t_end - t_train,
                "total_s": t_end - t_start,
                "tokens_per_s": n_tok_seen / max(1e-9, t_end - t_train),
                "model_flops": model_flops,
                "model_gflops_per_s": model_flops / 1e9 / max(1e-9, t_end - t_train),
            },
        },
    )
    runio.write_manifest(d, man)
    runio.atomic_write_text(d / "adapter_card.md", _adapter_card(cfg, sft_path, seed, man))
    shutil.rmtree(d / "checkpoint", ignore_errors=True)
    runio.mark_done(d)
    del model, opt, sched
    gc.collect()
    log.info("trained %s in %.1f s -> %s", cfg.student, t_end - t_start, d)
    return d


def _attention(cfg: TrainConfig, model) -> str:
    """The attention kernel to train with: ``cfg.attn_implementation``, ``auto`` by device.

    On CPU the eager (matmul + float32 softmax) path ran a training step 23-25% faster than
    torch's CPU flash kernel at 215-245 tokens and about level at 364 (``docs/students.md``).
    """
    if cfg.attn_implementation != "auto":
        return cfg.attn_implementation
    return "sdpa" if next(model.parameters()).device.type == "cuda" else "eager"


def _adapter_compute(model, compute_dtype: str) -> str:
    """How the adapter matmuls ran (manifest): mixed precision or the weights' own dtype."""
    if adapters_need_autocast(model, compute_dtype):
        return f"{compute_dtype} autocast, float32 master weights"
    dtypes = {str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.requires_grad}
    return "/".join(sorted(dtypes))


def _optimizer_step(model, opt, sched) -> None:
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)


def load_train_config(path: str | Path | None, **overrides: Any) -> tuple[TrainConfig, dict]:
    """``TrainConfig`` from YAML plus the file's run keys, with non-None ``overrides`` on top.

    The file holds either TrainConfig fields at the top level, or a ``train:`` section next to
    optional run keys ``sft``, ``seed`` and ``out`` (experiment folder), which are
    returned as the second element.
    """
    from ..config import validate_config

    raw: dict[str, Any] = {}
    if path is not None:
        import yaml

        p = Path(path)
        if not p.exists():
            raise ConfigError(f"{p}: config file not found. Check the path.")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError, IsADirectoryError) as e:
            raise ConfigError(f"{p}: not a readable YAML file ({e}). Fix the file.") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: expected a mapping at the top level.")
    run_keys = {k: raw.pop(k) for k in ("sft", "seed", "out") if k in raw}
    data = dict(raw.get("train", raw))
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate_config(TrainConfig, data, str(path or "<flags>")), run_keys
