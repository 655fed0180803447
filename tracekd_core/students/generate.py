"""Batched greedy generation with resumable JSON-lines output (paper section 5, inference).

The reference generated one prompt at a time, rendered the prompt without the generation prompt
and silently sampled with the model's shipped ``generation_config``. Here:

* the prompt is ``render.render_prompt`` (the same rendering training used, plus the generation
  prompt) of ``prompts.prompt_messages(problem)``;
* decoding is explicit (greedy by default) and recorded in ``<out>.manifest.json``;
* prompts are sorted by length and generated in left-padded batches; each row stops on its own
  once it has emitted ``cfg.stop`` (``</answer>``) or EOS, and the output is cut right after the
  stop string. ``hit_max_new_tokens`` marks outputs that ran out of budget;
* every finished batch is appended to ``out`` (``{"id", "output", "n_new_tokens",
  "hit_max_new_tokens", "stop_reason"}``), so a killed generation resumes where it stopped;
* the direct-prompting baseline is the same call with ``adapter=None``.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .. import runio
from ..config import GenerateConfig, dump
from ..records import Problem, iter_jsonl
from ..seeding import derive_seed
from .catalog import DEFAULT_CACHE_DIR, load_student, resolve_dtype, resolve_spec
from .render import render_prompt

log = logging.getLogger(__name__)


def load_predictions(path: str | Path) -> dict[str, dict[str, Any]]:
    """Predictions keyed by id (the last record wins if an id repeats).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "pred.jsonl"
    ...     _ = p.write_text('{"id": "a", "output": "x"}\\n{"id": "b", "output": "y"}\\n')
    ...     sorted(load_predictions(p))
    ['a', 'b']
    """
    path = Path(path)
    if not path.exists():
        return {}
    return {rec["id"]: rec for _, rec in iter_jsonl(path) if isinstance(rec, dict) and "id" in rec}


def manifest_path(out: str | Path) -> Path:
    """The sidecar manifest of a predictions file: ``pred.jsonl`` -> ``pred.manifest.json``."""
    return Path(out).with_suffix(".manifest.json")


def adapter_dir(adapter: str | Path) -> Path:
    """A PEFT adapter folder from a run folder (``RUN/adapter``) or the adapter folder itself.

    Raises
    ------
    ModelUnavailableError
        If neither holds ``adapter_config.json``.
    """
    from ..errors import ModelUnavailableError

    p = Path(adapter)
    for cand in (p / "adapter", p):
        if (cand / "adapter_config.json").exists():
            return cand
    raise ModelUnavailableError(
        f"--adapter {p}: no adapter_config.json in {p} or {p / 'adapter'}. Pass the run folder "
        "printed by `tracekd train` (it holds adapter/), and check that the run finished (DONE)."
    )


def fingerprint_path(out: str | Path) -> Path:
    """Sidecar naming what wrote a predictions file: ``pred.jsonl`` -> ``pred.fingerprint.json``."""
    return Path(out).with_suffix(".fingerprint.json")


def adapter_sha(adapter: str | Path | None) -> str | None:
    """Hash of an adapter's files (config and weights); ``None`` for direct prompting."""
    if adapter is None:
        return None
    d = adapter_dir(adapter)
    files = sorted(
        f for f in d.iterdir() if f.is_file() and f.suffix in {".json", ".safetensors", ".bin"}
    )
    return runio.stable_hash({f.name: runio.file_sha256(f) for f in files}, n=16)


def problem_sha(problem: Problem) -> str:
    """Hash of one problem's content (a resumed id must still be the same problem)."""
    from dataclasses import asdict

    return runio.stable_hash(asdict(problem), n=12)


def check_fingerprint(
    out: Path, setup: dict[str, Any], problems: list[Problem], done: set[str]
) -> dict[str, Any]:
    """Refuse to resume into predictions written by another model, adapter, decoding or data.

    ``setup`` holds student, adapter hash, quantisation, system prompt and decoding settings;
    every already-answered id must also still be the same problem. Returns the fingerprint to
    write (the stored one extended with ``problems``).

    Raises
    ------
    ResumeMismatchError
        Naming the field that differs, both values and the file to delete.
    """
    from ..errors import ResumeMismatchError

    fp_path = fingerprint_path(out)
    fix = (
        f"Write to another --out, or delete {out} (and {partial_path(out).name}, "
        f"{fp_path.name}) to start again."
    )
    old = json.loads(fp_path.read_text(encoding="utf-8")) if fp_path.exists() else None
    if done and old is None:
        raise ResumeMismatchError(
            f"{out}: holds {len(done)} predictions but no {fp_path.name} saying which student, "
            f"adapter and decoding wrote them, so they cannot be resumed. {fix}"
        )
    stored = dict(old["problems"]) if old else {}
    if done and old is not None:
        for key, value in setup.items():
            if old["setup"].get(key) != value:
                raise ResumeMismatchError(
                    f"{out}: field {key!r} of the existing predictions is "
                    f"{old['setup'].get(key)!r}, this run has {value!r}. {fix}"
                )
        for p in problems:
            if p.id in done and stored.get(p.id) not in (None, problem_sha(p)):
                raise ResumeMismatchError(
                    f"{out}: problem {p.id!r} changed since its prediction was written "
                    f"(problem hash {stored[p.id]} != {problem_sha(p)}). {fix}"
                )
    if not done:
        stored = {}
    stored.update({p.id: problem_sha(p) for p in problems})
    return {"setup": setup, "problems": stored}


class StopOnText:
    """Stopping criterion: a row is finished once its generated text contains ``stop``.

    Only the last few tokens of each row are decoded per step (cheap), and each row finishes
    independently (``generate`` pads finished rows).
    """

    def __init__(self, tokenizer: Any, stop: str, prompt_len: int):
        self.tokenizer, self.stop, self.prompt_len = tokenizer, stop, prompt_len
        self.window = len(tokenizer(stop, add_special_tokens=False)["input_ids"]) + 2

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        tail = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window) :]
        texts = self.tokenizer.batch_decode(tail, skip_special_tokens=True)
        return torch.tensor([self.stop in t for t in texts], device=input_ids.device)


def finish_output(
    new_ids: list[int], tokenizer: Any, stop: str, end_ids: set[int], max_new_tokens: int
) -> dict[str, Any]:
    """Cut one row's new tokens at EOS/pad and right after ``stop``; classify why it ended.

    Examples
    --------
    >>> class Tok:
    ...     def decode(self, ids, skip_special_tokens=True):
    ...         return "".join(chr(i) for i in ids)
    >>> r = finish_output([ord(c) for c in "ab</x>cd"] + [0, 0], Tok(), "</x>", {0}, 10)
    >>> (r["output"], r["n_new_tokens"], r["stop_reason"], r["hit_max_new_tokens"])
    ('ab</x>', 6, 'stop', False)
    >>> finish_output([ord("a")] * 3, Tok(), "</x>", {0}, 3)["stop_reason"]
    'max_new_tokens'
    """
    k = next((i for i, t in enumerate(new_ids) if t in end_ids), len(new_ids))
    text = tokenizer.decode(new_ids[:k], skip_special_tokens=True)
    if stop and stop in text:
        text = text[: text.index(stop) + len(stop)]
        # tokens up to the one that completed the stop string
        n = next(
            (
                j
                for j in range(1, k + 1)
                if stop in tokenizer.decode(new_ids[:j], skip_special_tokens=True)
            ),
            k,
        )
        return {
            "output": text,
            "n_new_tokens": n,
            "hit_max_new_tokens": False,
            "stop_reason": "stop",
        }
    if k < len(new_ids) or k < max_new_tokens:
        return {
            "output": text,
            "n_new_tokens": k,
            "hit_max_new_tokens": False,
            "stop_reason": "eos",
        }
    return {
        "output": text,
        "n_new_tokens": k,
        "hit_max_new_tokens": True,
        "stop_reason": "max_new_tokens",
    }


def decoding_config(cfg: GenerateConfig, tokenizer: Any):
    """An explicit ``GenerationConfig`` (never the model's shipped sampling defaults)."""
    from transformers import GenerationConfig

    kwargs: dict[str, Any] = {
        "max_new_tokens": cfg.max_new_tokens,
        "do_sample": cfg.do_sample,
        "num_beams": 1,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if cfg.do_sample:
        kwargs.update(temperature=cfg.temperature, top_p=cfg.top_p, top_k=0)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    return GenerationConfig(**kwargs)


def check_adapter(adapter: str | Path, student: str) -> None:
    """The adapter's config must parse and name ``student`` as its base model.

    Raises
    ------
    ModelUnavailableError
        ``adapter_config.json`` is not valid JSON.
    ConfigError
        The adapter was trained on another base model.
    """
    from ..errors import ConfigError, ModelUnavailableError

    path = adapter_dir(adapter) / "adapter_config.json"
    try:
        conf = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelUnavailableError(
            f"{path}: not valid JSON ({e}). The adapter is corrupted; retrain it."
        ) from None
    base = conf.get("base_model_name_or_path") if isinstance(conf, dict) else None
    if base and base != student and not _same_student(str(base), student):
        raise ConfigError(
            f"{path}: field 'base_model_name_or_path' is {base!r} but --student is {student!r}. "
            f"Pass --student {base}, or an adapter trained on {student}."
        )


def _same_student(a: str, b: str) -> bool:
    """Two names of one student (registry name, hub id or folder resolve to one spec)."""
    try:
        sa, sb = resolve_spec(a), resolve_spec(b)
    except Exception:
        return Path(a).name == Path(b).name
    return sa == sb or (getattr(sa, "hub_id", None) or 0) == (getattr(sb, "hub_id", None) or 1)


def load_for_generation(
    student: str,
    *,
    adapter: str | Path | None = None,
    quant: str = "none",
    dtype: str = "auto",
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
):
    """Student (+ adapter, merged into the weights when not quantised) and tokenizer."""
    if adapter is not None:
        check_adapter(adapter, student)
    model, tok = load_student(student, quant=quant, dtype=dtype, cache_dir=cache_dir)
    if adapter is not None:
        from peft import PeftModel

        from ..errors import ModelUnavailableError

        try:
            model = PeftModel.from_pretrained(model, adapter_dir(adapter))
        except Exception as e:  # truncated/garbled weights: say which folder, not a traceback
            raise ModelUnavailableError(
                f"--adapter {adapter}: the adapter in {adapter_dir(adapter)} does not load "
                f"({type(e).__name__}: {str(e)[:200]}). Retrain it (delete the run folder and "
                "re-run `tracekd train`)."
            ) from e
        if quant == "none":  # merged weights generate faster; 4-bit bases keep the adapter apart
            model = model.merge_and_unload()
    model.eval()
    return model, tok


def generate_batch(
    model: Any, tok: Any, prompts: list[list[int]], cfg: GenerateConfig, seed: int = 0
) -> list[dict[str, Any]]:
    """Generate for token-id prompts as one batch; one result dict per prompt.

    Greedy decoding (the default) runs ``decode.greedy_decode``: the batch's longest common token
    prefix is computed once and its KV cache shared, and finished rows leave the batch. Sampling
    (``cfg.do_sample``) goes through ``model.generate`` with left padding and a per-batch seed.
    """
    end_ids = {tok.pad_token_id, tok.eos_token_id} - {None}
    if not cfg.do_sample:
        from .decode import greedy_decode

        window = len(tok(cfg.stop, add_special_tokens=False)["input_ids"]) + 2 if cfg.stop else 0

        def is_stopped(ids: list[int]) -> bool:
            return cfg.stop in tok.decode(ids[-window:], skip_special_tokens=True)

        new, _ = greedy_decode(
            model,
            prompts,
            max_new_tokens=cfg.max_new_tokens,
            pad_id=tok.pad_token_id,
            end_ids=end_ids,
            is_stopped=is_stopped if cfg.stop else None,
        )
        return [finish_output(ids, tok, cfg.stop, end_ids, cfg.max_new_tokens) for ids in new]
    return _sample_batch(model, tok, prompts, cfg, seed, end_ids)


def _sample_batch(
    model: Any, tok: Any, prompts: list[list[int]], cfg: GenerateConfig, seed: int, end_ids
) -> list[dict[str, Any]]:
    """Sampled decoding through ``model.generate`` (left-padded batch, seeded per batch)."""
    import torch
    from transformers import StoppingCriteriaList

    n = max(len(p) for p in prompts)
    pad = tok.pad_token_id
    ids = torch.tensor([[pad] * (n - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (n - len(p)) + [1] * len(p) for p in prompts])
    torch.manual_seed(derive_seed(seed, "generate", prompts[0][-8:]))
    stops = StoppingCriteriaList([StopOnText(tok, cfg.stop, n)] if cfg.stop else [])
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            stopping_criteria=stops,
            generation_config=decoding_config(cfg, tok),
        )
    return [
        finish_output(row[n:].tolist(), tok, cfg.stop, end_ids, cfg.max_new_tokens) for row in out
    ]


def partial_path(out: str | Path) -> Path:
    """Where an unfinished generation appends: ``pred.jsonl`` -> ``pred.jsonl.part``.

    The file is renamed to ``out`` once every problem has its prediction, so ``out`` is only
    ever a complete predictions file.
    """
    out = Path(out)
    return out.with_name(out.name + ".part")


def generate(student: str, problems: list[Problem], out: str | Path, **kwargs: Any) -> Path:
    """Generate answers for ``problems`` into ``out`` under ``out``'s lock (see ``_generate``).

    A second process generating into the same file waits for the first, then resumes (and
    finds nothing left to do) instead of appending duplicates.
    """
    from ..errors import ConfigError

    if kwargs.get("limit") is not None and kwargs["limit"] < 1:
        raise ConfigError(
            f"--limit {kwargs['limit']}: must be a positive number of problems (omit it for all)."
        )
    if Path(out).is_dir():
        raise ConfigError(
            f"--out {out} is a folder; give a file path such as {Path(out) / 'predictions.jsonl'}."
        )
    with runio.locked(out, what="predictions file", file=True):
        return _generate(student, problems, out, **kwargs)


def _generate(
    student: str,
    problems: list[Problem],
    out: str | Path,
    *,
    cfg: GenerateConfig,
    adapter: str | Path | None = None,
    limit: int | None = None,
    quant: str = "none",
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
    system: str = "neutral",
    seed: int = 0,
) -> Path:
    """Generate answers for ``problems`` into ``out`` (JSON lines, appended per batch).

    Parameters
    ----------
    student : str
        Student registry name, hub id or folder.
    problems : list of Problem
        Problems to answer (ids already in ``out`` are skipped: resume).
    out : path
        Predictions file; ``<out>.manifest.json`` records decoding config and timings.
    cfg : GenerateConfig
        Decoding settings (greedy by default).
    adapter : path, optional
        A training run folder (or its ``adapter/``); ``None`` = direct prompting.
    limit : int, optional
        Only the first ``limit`` problems.
    quant : {"none", "nf4"}
        Load the base in 4-bit (adapter kept unmerged) or in ``cfg.dtype``.
    system : str
        System prompt name (``prompts.SYSTEM_PROMPTS``); must match the SFT data's.
    seed : int
        Only used when ``cfg.do_sample``.

    Returns
    -------
    Path
        ``out``.
    """
    import torch
    from tqdm.auto import tqdm

    from ..traces.prompts import prompt_messages

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    chosen = problems[:limit] if limit is not None else list(problems)
    if not chosen:
        from ..errors import EmptyInputError

        raise EmptyInputError(
            f"generate into {out}: no problem to answer (got {len(problems)} problems, "
            f"limit={limit!r}). Pass a problems file whose split holds at least one problem."
        )
    part = partial_path(out)
    runio.drop_torn_tail(part)  # a kill mid-write leaves at most one torn last line
    done = load_predictions(part if part.exists() else out)
    todo = [p for p in chosen if p.id not in done]
    log.info(
        "generate: %d problems, %d already in %s, %d to do",
        len(chosen),
        len(chosen) - len(todo),
        out,
        len(todo),
    )
    setup = {
        "student": student,
        "adapter_sha": adapter_sha(adapter),
        "quant": quant,
        "system": system,
        "decoding": dump(cfg),
        "seed": seed if cfg.do_sample else None,
    }
    fp = check_fingerprint(out, setup, chosen, set(done))  # also when nothing is left
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    if todo:
        from ..cpu import tune_process

        if out.exists() and not part.exists():
            shutil.copyfile(out, part)  # new problems for a finished file: extend a copy
        runio.atomic_write_json(fingerprint_path(out), fp)  # before the first batch

        tune_process()
        dtype = resolve_dtype(cfg.dtype)
        model, tok = load_for_generation(
            student, adapter=adapter, quant=quant, dtype=dtype, cache_dir=cache_dir
        )
        kwargs = resolve_spec(student).template_kwargs
        t1 = time.perf_counter()
        enc = [
            tok(
                render_prompt(prompt_messages(p, system=system), tok, kwargs),
                add_special_tokens=False,
            )["input_ids"]
            for p in todo
        ]
        order = sorted(range(len(todo)), key=lambda i: (-len(enc[i]), todo[i].id))
        batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        with (
            part.open("a", encoding="utf-8") as fh,
            tqdm(total=len(todo), desc="generate", unit="problem") as bar,
        ):
            for b in batches:
                res = generate_batch(model, tok, [enc[i] for i in b], cfg, seed)
                fh.write(  # one write per batch: a kill tears at most the last line
                    "".join(
                        json.dumps({"id": todo[i].id, **r}, ensure_ascii=False) + "\n"
                        for i, r in zip(b, res, strict=True)
                    )
                )
                fh.flush()
                os.fsync(fh.fileno())
                bar.update(len(b))
        t2 = time.perf_counter()
        timings = {
            "load_s": t1 - t0,
            "generate_s": t2 - t1,
            "n_generated": len(todo),
            "problems_per_s": len(todo) / max(1e-9, t2 - t1),
            "torch_threads": torch.get_num_threads(),
        }
        del model
        gc.collect()
    if part.exists():
        os.replace(part, out)  # complete: readers of ``out`` never see a partial file
        runio.fsync_dir(out.parent)
    preds = load_predictions(out)
    mine = [preds[p.id] for p in chosen if p.id in preds]
    man_path = manifest_path(out)
    old = json.loads(man_path.read_text()) if man_path.exists() else {}
    man = runio.base_manifest(
        seed=seed,
        dtype=resolve_dtype(cfg.dtype),
        extra={
            "student": student,
            "adapter": str(adapter) if adapter else None,
            "quant": quant,
            "system": system,
            "decoding": dump(cfg),
            "n_problems": len(chosen),
            "n_hit_max_new_tokens": sum(bool(r.get("hit_max_new_tokens")) for r in mine),
            "sessions": old.get("sessions", []) + ([timings] if timings else []),
        },
    )
    runio.atomic_write_json(man_path, man)
    if man["n_hit_max_new_tokens"]:
        log.warning(
            "%d of %d outputs hit max_new_tokens=%d",
            man["n_hit_max_new_tokens"],
            len(mine),
            cfg.max_new_tokens,
        )
    return out
