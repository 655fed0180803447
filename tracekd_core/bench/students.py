"""Benchmarks of the student stage: ``tracekd bench train`` and ``tracekd bench generate``.

Paper section 5 (training and inference recipe). Both benchmarks run the embedded student on the
same CoTemp-style data (``datasets.make_problems(cotemp, n_train=256, n_test=64, seed=0)``, SFT
kind ``correct``) and run the contenders side by side in one process, so they share the machine's
state:

* train: our loop (``train.train``: completion-only loss with the LM head on supervised positions
  only, length-grouped micro-batches) vs the reference recipe (TRL ``SFTTrainer``, loss on the
  whole rendered text, no packing, pad to longest, gradient checkpointing as the paper's script),
  same student, LoRA config, steps and batch shape. Reports tokens/s (non-pad tokens) and model
  FLOP utilisation against a matmul peak measured in the same run;
* generate: ``generate.generate`` (length-sorted left-padded batches, per-row stop at
  ``</answer>``/EOS) vs one prompt at a time through the same decoding config; reports problems/s
  and checks that the greedy outputs are identical.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import runio
from ..config import DataConfig, GenerateConfig, TrainConfig
from ..students import flops
from ..students.catalog import DEFAULT_CACHE_DIR, load_student, resolve_dtype
from ..students.flops import matmul_peak

log = logging.getLogger(__name__)

BENCH_ROOT = Path("runs/bench")


def bench_data(
    root: str | Path = BENCH_ROOT,
    n_train: int = 256,
    n_test: int = 64,
    profile: str | None = "default",
):
    """``(sft_path, test_problems)``: CoTemp correct-trace SFT file and test problems.

    The problems are generated like the ``profile``'s CoTemp dataset (its distractor count), so
    the benchmark measures sequences of the length the book trains and generates on.
    """
    from ..config import load_profile
    from ..datasets import make_problems
    from ..records import write_jsonl
    from ..traces.decompose import build_sft_examples

    dc = DataConfig(dataset="cotemp", n_train=n_train, n_test=n_test)
    if profile:
        prof = load_profile(profile)
        base = next((d for d in prof.datasets if d.dataset == "cotemp"), dc)
        dc = base.model_copy(update={"n_train": n_train, "n_test": n_test, "source": "synthetic"})
    problems = make_problems(dc, seed=0)
    train = [p for p in problems if p.split == "train"]
    test = [p for p in problems if p.split == "test"]
    path = Path(root) / "data" / f"cotemp-correct-{n_train}-d{dc.n_distractors}.jsonl"
    recs = build_sft_examples(train, "correct", seed=0)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
    if not path.exists() or path.read_text() != text:
        write_jsonl(path, recs)
    return path, test


def _time_conversion(threads: int) -> dict[str, float]:
    """Convert the embedded GGUF into a scratch cache and load it back (cold numbers)."""
    import torch

    from ..students.catalog import embedded_model_dir, load_student

    torch.set_num_threads(threads)
    scratch = Path(tempfile.mkdtemp(prefix="tracekd-conv-"))
    try:
        t0 = time.perf_counter()
        embedded_model_dir(scratch)
        t1 = time.perf_counter()
        load_student("smollm2-135m", cache_dir=scratch)
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"conversion_s": t1 - t0, "load_s": t2 - t1}


def _reference_trainer(cfg: TrainConfig, sft_path: Path, seed: int, workdir: Path):
    """The fair baseline: TRL ``SFTTrainer`` with its own completion-only loss.

    The same chat rendering as ours, given to TRL as a conversational prompt-completion dataset
    (``prompt`` = system + user turns, ``completion`` = the assistant turn), so TRL's
    ``completion_only_loss`` supervises exactly the assistant trace + answer, as our loop does.
    Same student, dtype, LoRA config (``train._lora_config``), lr schedule, batch and steps; no
    gradient checkpointing (ours does not checkpoint either), pad to the longest in the batch.
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from ..students.catalog import load_student
    from ..students.train import _lora_config
    from ..traces.sft import read_sft

    dtype = resolve_dtype(cfg.dtype)
    model, tok = load_student(cfg.student, quant=cfg.quant, dtype=dtype)
    tok.padding_side = "right"
    rows = [
        {"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in read_sft(sft_path)
    ]
    args = SFTConfig(
        output_dir=str(workdir),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        max_steps=cfg.max_steps,
        learning_rate=cfg.lr,
        lr_scheduler_type="cosine",
        warmup_steps=math.ceil(cfg.warmup_ratio * (cfg.max_steps or 1)),
        weight_decay=0.0,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=dtype == "bfloat16",
        gradient_checkpointing=False,
        max_length=cfg.max_length,
        packing=False,
        padding_free=False,
        completion_only_loss=True,
        seed=seed,
        data_seed=seed,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        peft_config=_lora_config(cfg),
    )


def bench_train(
    *,
    steps: int = 16,
    out: str | Path = BENCH_ROOT / "train.json",
    threads: int = 2,
    dtype: str = "auto",
    quant: str = "none",
    ref_dtype: str | None = None,
    seed: int = 0,
    conversion: bool = True,
    profile: str = "default",
) -> dict[str, Any]:
    """Ours vs TRL ``SFTTrainer`` (completion-only loss) on the same data; prints, writes JSON.

    Both train the ``profile``'s student with its LoRA config, lr, warm-up and micro-batch for
    ``steps`` optimiser steps over exactly ``steps * batch_size`` CoTemp-style correct-trace
    examples (one epoch: both see every example once, in their own order), so both do the same
    model FLOPs (``flops.lora_train_flops``) and MFU ratios equal speed ratios. The matmul peak
    is measured in the same process and dtype. The JSON is written after each contender, so a
    crash keeps the finished measurements.
    """
    import torch

    from ..config import load_profile
    from ..students.train import encode_sft, train

    torch.set_num_threads(threads)
    prof = load_profile(profile)
    base = prof.train
    n_ex = steps * base.batch_size * base.grad_accum
    sft_path, _ = bench_data(n_train=n_ex, profile=profile)
    cfg = base.model_copy(
        update={
            "quant": quant,
            "dtype": dtype,
            "max_steps": steps,
            "epochs": 1,
            "save_steps": 10**6,
            "num_threads": threads,
        }
    )
    res: dict[str, Any] = {
        "profile": profile,
        "student": cfg.student,
        "threads": threads,
        "steps": steps,
        "examples": n_ex,
        "batch_size": cfg.batch_size,
        "lora": {"r": cfg.lora_r, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout},
        "dtype": resolve_dtype(dtype),
        "ref_dtype": resolve_dtype(ref_dtype or dtype),
        "quant": quant,
        "data": str(sft_path),
        "manifest": runio.base_manifest(seed=seed),
    }
    if conversion:
        res["embedded"] = _time_conversion(threads)
    res["peak_gflops"] = {dt: matmul_peak(dt) for dt in ("float32", "bfloat16")}
    model, tok = load_student(cfg.student, dtype=res["dtype"])
    res["dims"] = dims = flops.dims(model)
    from ..students.catalog import resolve_spec
    from ..traces.sft import read_sft

    data = encode_sft(read_sft(sft_path), tok, cfg, resolve_spec(cfg.student).template_kwargs)
    task_flops = flops.lora_train_flops(dims, [len(e) for e in data.examples], data.n_supervised)
    res["task"] = {
        "tokens": data.n_tokens,
        "supervised_tokens": data.n_supervised,
        "model_flops": task_flops,
    }
    del model
    scratch = Path(tempfile.mkdtemp(prefix="tracekd-bench-"))
    try:
        d = train(cfg, sft_path, runs_root=scratch / "ours", seed=seed)
        man = json.loads((d / "manifest.json").read_text())
        t = man["timings"]
        losses = [json.loads(x)["loss"] for x in (d / "loss.jsonl").read_text().splitlines()]
        res["ours"] = ours = _contender(t["train_s"], data.n_tokens, task_flops, losses)
        ours["mfu"] = ours["model_gflops_per_s"] / res["peak_gflops"][res["dtype"]]
        runio.atomic_write_json(out, res)
        ref_cfg = cfg.model_copy(update={"dtype": ref_dtype or dtype})
        trainer = _reference_trainer(ref_cfg, sft_path, seed, scratch / "ref")
        t0 = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - t0
        ref_losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        res["reference"] = ref = _contender(wall, data.n_tokens, task_flops, ref_losses)
        ref["tokens_seen_by_trl"] = int(trainer.state.num_input_tokens_seen)
        ref["mfu"] = ref["model_gflops_per_s"] / res["peak_gflops"][res["ref_dtype"]]
        del trainer
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    res["speedup_tokens_per_s"] = ours["tokens_per_s"] / ref["tokens_per_s"]
    res["loss_agreement"] = _loss_agreement(ours["losses"], ref["losses"])
    runio.atomic_write_json(out, res)
    print(
        _table(
            [("ours (tracekd train)", ours), ("TRL SFTTrainer, completion-only", ref)],
            ["wall_s", "tokens_per_s", "model_gflops_per_s", "mfu", "mean_loss_last_quarter"],
        )
    )
    print(
        f"speedup: {res['speedup_tokens_per_s']:.2f}x tokens/s | loss curves: "
        f"{res['loss_agreement']} | peak GFLOP/s fp32 {res['peak_gflops']['float32']:.0f}, "
        f"bf16 {res['peak_gflops']['bfloat16']:.0f} ({res['dtype']})\n-> {out}"
    )
    return res


def _contender(wall: float, tokens: int, task_flops: float, losses: list[float]) -> dict:
    q = max(1, len(losses) // 4)
    return {
        "wall_s": wall,
        "tokens_per_s": tokens / wall,
        "model_gflops_per_s": task_flops / wall / 1e9,
        "losses": losses,
        "mean_loss_last_quarter": sum(losses[-q:]) / q if losses else float("nan"),
    }


def _loss_agreement(a: list[float], b: list[float]) -> dict[str, float]:
    """How close two loss curves of the same length are (different example orders).

    Examples
    --------
    >>> _loss_agreement([2.0, 1.0, 0.5, 0.4], [2.2, 1.1, 0.5, 0.4])["first_to_last_drop_ratio"]
    0.889
    """
    n = min(len(a), len(b))
    q = max(1, n // 4)
    mean = lambda x: sum(x) / len(x)  # noqa: E731
    drop_a = mean(a[:q]) - mean(a[n - q : n])
    drop_b = mean(b[:q]) - mean(b[n - q : n])
    return {
        "steps": n,
        "last_quarter_ours": round(mean(a[n - q : n]), 4),
        "last_quarter_trl": round(mean(b[n - q : n]), 4),
        "first_to_last_drop_ratio": round(drop_a / drop_b, 3) if drop_b else float("nan"),
    }


def bench_generate(
    *,
    n_problems: int = 64,
    out: str | Path = BENCH_ROOT / "generate.json",
    threads: int = 2,
    adapter: str | Path | None = None,
    max_new_tokens: int = 128,
    batch_size: int = 50,
    dtype: str = "auto",
    adapter_steps: int = 16,
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
    profile: str = "default",
) -> dict[str, Any]:
    """Batched vs one-at-a-time greedy generation on the same problems and adapter.

    ``adapter=None`` trains (once, cached in ``runs/bench/adapter``) an adapter like one cell of
    ``profile`` (its train section, ``adapter_steps`` steps on CoTemp correct traces), so the
    outputs have the trace + answer lengths the book generates; ``adapter="none"`` benchmarks
    the base model (direct prompting).
    """
    import torch

    from ..students.generate import generate, generate_batch, load_for_generation, load_predictions
    from ..students.render import render_prompt
    from ..students.train import train
    from ..traces.prompts import prompt_messages

    torch.set_num_threads(threads)
    from ..config import load_profile

    base = load_profile(profile).train
    n_train = adapter_steps * base.batch_size * base.grad_accum
    sft_path, test = bench_data(n_train=n_train, n_test=max(64, n_problems), profile=profile)
    problems = test[:n_problems]
    if isinstance(adapter, str) and adapter.lower() == "none":  # direct prompting: base model
        adapter = None
    elif adapter is None:
        acfg = base.model_copy(
            update={
                "student": "smollm2-135m",
                "quant": "none",
                "dtype": dtype,
                "max_steps": adapter_steps,
                "num_threads": threads,
            }
        )
        adapter = train(acfg, sft_path, runs_root=BENCH_ROOT, experiment="adapter")
    cfg = GenerateConfig(max_new_tokens=max_new_tokens, batch_size=batch_size, dtype=dtype)
    scratch = Path(tempfile.mkdtemp(prefix="tracekd-bench-gen-"))
    try:
        pred = generate(
            "smollm2-135m",
            problems,
            scratch / "ours.jsonl",
            cfg=cfg,
            adapter=adapter,
            cache_dir=cache_dir,
        )
        sess = json.loads(pred.with_suffix(".manifest.json").read_text())["sessions"][-1]
        ours_out = load_predictions(pred)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    model, tok = load_for_generation(
        "smollm2-135m", adapter=adapter, dtype=resolve_dtype(dtype), cache_dir=cache_dir
    )
    t0 = time.perf_counter()
    naive_out = {}
    for p in problems:
        ids = tok(render_prompt(prompt_messages(p), tok), add_special_tokens=False)["input_ids"]
        naive_out[p.id] = generate_batch(model, tok, [ids], cfg)[0]
    naive_s = time.perf_counter() - t0
    del model
    diff = [p.id for p in problems if ours_out[p.id]["output"] != naive_out[p.id]["output"]]
    new_tok = sum(r["n_new_tokens"] for r in naive_out.values())
    res = {
        "threads": threads,
        "n_problems": len(problems),
        "dtype": resolve_dtype(dtype),
        "adapter": str(adapter),
        "decoding": cfg.model_dump(),
        "ours": {"wall_s": sess["generate_s"], "problems_per_s": sess["problems_per_s"]},
        "naive": {"wall_s": naive_s, "problems_per_s": len(problems) / naive_s},
        "mean_new_tokens": new_tok / len(problems),
        "n_hit_max_new_tokens": sum(r["hit_max_new_tokens"] for r in ours_out.values()),
        "identical": not diff,
        "n_different": len(diff),
        "different_ids": diff[:20],
    }
    res["speedup"] = res["ours"]["problems_per_s"] / res["naive"]["problems_per_s"]
    runio.atomic_write_json(out, {**res, "manifest": runio.base_manifest()})
    print(
        _table(
            [
                ("ours (batched, sorted, per-row stop)", res["ours"]),
                ("naive (one prompt at a time)", res["naive"]),
            ],
            ["wall_s", "problems_per_s"],
        )
    )
    print(
        f"speedup {res['speedup']:.2f}x | identical greedy outputs: {res['identical']} "
        f"({len(diff)} differ) | mean new tokens {res['mean_new_tokens']:.1f} | hit max "
        f"{res['n_hit_max_new_tokens']}\n-> {out}"
    )
    return res


def _table(rows: list[tuple[str, dict[str, Any]]], cols: list[str]) -> str:
    """A plain-text table.

    Examples
    --------
    >>> print(_table([("a", {"x": 1.5})], ["x"]))
    run  x
    a    1.50
    """
    w = max(len("run"), *(len(n) for n, _ in rows))
    lines = ["  ".join(["run".ljust(w), *cols])]
    for name, r in rows:
        cells = [
            f"{r[c]:.3f}"
            if isinstance(r[c], float) and r[c] < 1
            else f"{r[c]:.2f}"
            if isinstance(r[c], float)
            else str(r[c])
            for c in cols
        ]
        lines.append("  ".join([name.ljust(w), *cells]))
    return "\n".join(lines)
