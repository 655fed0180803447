"""Generation (generate.py): batched greedy decoding, per-row stop, resumable output, CLI."""

from __future__ import annotations

import json

import pytest

from tracekd_core.cli import main
from tracekd_core.config import GenerateConfig, TrainConfig
from tracekd_core.errors import ModelUnavailableError
from tracekd_core.records import read_problems
from tracekd_core.students import generate as gen

CFG = GenerateConfig(max_new_tokens=6, batch_size=3, dtype="float32")


@pytest.fixture(scope="module")
def problems(render_dir):
    return read_problems(render_dir / "problems.jsonl")


@pytest.fixture(scope="module")
def adapter_run(tmp_path_factory, sft_path, model_cache):
    from tracekd_core.students.train import train

    cfg = TrainConfig(
        student="tiny-random",
        quant="none",
        dtype="float32",
        max_steps=1,
        batch_size=2,
        grad_accum=1,
        num_threads=1,
    )
    return train(cfg, sft_path, runs_root=tmp_path_factory.mktemp("runs"), cache_dir=model_cache)


def test_stop_on_text_finishes_rows_independently(smol_tokenizer):
    import torch

    rows = ["<think>x</think> <answer>['A']</answer>", "<think>x</think> <answer>['A"]
    enc = [smol_tokenizer(r, add_special_tokens=False)["input_ids"] for r in rows]
    n = max(map(len, enc))
    pad = smol_tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (n - len(e)) + e for e in enc])
    stop = gen.StopOnText(smol_tokenizer, "</answer>", prompt_len=2)
    assert stop(ids, None).tolist() == [True, False]


def test_finish_output_cuts_after_the_stop_string(smol_tokenizer):
    text = "<think>t</think> <answer>['A']</answer>\nmore"
    ids = smol_tokenizer(text, add_special_tokens=False)["input_ids"]
    eos = smol_tokenizer.eos_token_id
    r = gen.finish_output(ids + [eos], smol_tokenizer, "</answer>", {eos}, 100)
    assert r["output"] == "<think>t</think> <answer>['A']</answer>"
    assert r["stop_reason"] == "stop" and not r["hit_max_new_tokens"]
    assert smol_tokenizer.decode(ids[: r["n_new_tokens"]]).endswith("</answer>")
    r = gen.finish_output(ids[:3] + [eos, 5, 6], smol_tokenizer, "</answer>", {eos}, 6)
    assert r["stop_reason"] == "eos" and r["n_new_tokens"] == 3


def test_generate_writes_records_and_manifest(problems, tmp_path, model_cache):
    out = gen.generate(
        "tiny-random", problems, tmp_path / "pred.jsonl", cfg=CFG, cache_dir=model_cache
    )
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["id"] for r in recs) == sorted(p.id for p in problems)
    for r in recs:
        assert set(r) >= {"id", "output", "n_new_tokens", "hit_max_new_tokens"}
        assert 0 < r["n_new_tokens"] <= CFG.max_new_tokens
    man = json.loads(gen.manifest_path(out).read_text())
    assert man["decoding"]["do_sample"] is False and man["decoding"]["max_new_tokens"] == 6
    assert man["n_hit_max_new_tokens"] == sum(r["hit_max_new_tokens"] for r in recs)
    assert man["sessions"][0]["n_generated"] == len(problems)


def test_generation_resumes_where_it_stopped(problems, tmp_path, model_cache):
    out = tmp_path / "pred.jsonl"
    gen.generate("tiny-random", problems, out, cfg=CFG, limit=2, cache_dir=model_cache)
    first = out.read_text().splitlines()
    assert len(first) == 2
    gen.generate("tiny-random", problems, out, cfg=CFG, cache_dir=model_cache)
    lines = out.read_text().splitlines()
    assert lines[:2] == first and len(lines) == len(problems)
    sessions = json.loads(gen.manifest_path(out).read_text())["sessions"]
    assert [s["n_generated"] for s in sessions] == [2, len(problems) - 2]
    gen.generate("tiny-random", problems, out, cfg=CFG, cache_dir=model_cache)
    assert out.read_text().splitlines() == lines  # nothing left: no model load, no new lines


def test_batched_equals_one_at_a_time(problems, tiny_student):
    from tracekd_core.students.render import render_prompt
    from tracekd_core.traces.prompts import prompt_messages

    model, tok = tiny_student
    enc = [
        tok(render_prompt(prompt_messages(p), tok), add_special_tokens=False)["input_ids"]
        for p in problems
    ]
    cfg = GenerateConfig(max_new_tokens=8, dtype="float32")
    batched = gen.generate_batch(model, tok, enc, cfg)
    single = [gen.generate_batch(model, tok, [e], cfg)[0] for e in enc]
    assert [b["output"] for b in batched] == [s["output"] for s in single]


def test_generate_with_adapter_and_cli(
    problems, adapter_run, render_dir, tmp_path, capsys, model_cache
):
    assert gen.adapter_dir(adapter_run) == adapter_run / "adapter"
    with pytest.raises(ModelUnavailableError, match="adapter_config.json"):
        gen.adapter_dir(tmp_path)
    out = tmp_path / "pred.jsonl"
    rc = main(
        [
            "generate",
            "--student",
            "tiny-random",
            "--adapter",
            str(adapter_run),
            "--problems",
            str(render_dir / "problems.jsonl"),
            "--out",
            str(out),
            "--limit",
            "2",
            "--max-new-tokens",
            "4",
            "--dtype",
            "float32",
        ]
    )
    assert rc == 0 and "2 predictions" in capsys.readouterr().out
    assert json.loads(gen.manifest_path(out).read_text())["adapter"] == str(adapter_run)
    assert len(gen.load_predictions(out)) == 2


def test_two_processes_on_one_file_write_each_prediction_once(render_dir, tmp_path):
    """Issue 10.1: two concurrent generations into one file used to append duplicates."""
    import os
    import subprocess
    import sys

    out = tmp_path / "pred.jsonl"
    cmd = [sys.executable, "-m", "tracekd_core.cli", "generate", "--student", "tiny-random"]
    cmd += ["--problems", str(render_dir / "problems.jsonl"), "--out", str(out)]
    cmd += ["--max-new-tokens", "4", "--dtype", "float32"]
    procs = [subprocess.Popen(cmd, env=dict(os.environ), stderr=subprocess.PIPE) for _ in (0, 1)]
    errs = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == len(read_problems(render_dir / "problems.jsonl"))


def test_killed_generation_leaves_no_partial_predictions_file(
    problems, tmp_path, model_cache, monkeypatch
):
    """Issue 10.1: ``out`` only ever holds a complete file; a kill leaves ``out.part``."""
    out = tmp_path / "pred.jsonl"
    real, calls = gen.generate_batch, []

    def dies_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(gen, "generate_batch", dies_on_second_batch)
    cfg = CFG.model_copy(update={"batch_size": 1})
    with pytest.raises(KeyboardInterrupt):
        gen.generate("tiny-random", problems, out, cfg=cfg, cache_dir=model_cache)
    assert not out.exists() and len(gen.partial_path(out).read_text().splitlines()) == 1
    monkeypatch.setattr(gen, "generate_batch", real)
    gen.generate("tiny-random", problems, out, cfg=cfg, cache_dir=model_cache)
    assert not gen.partial_path(out).exists()
    assert len(gen.load_predictions(out)) == len(problems)


def test_resume_refuses_another_adapter_decoding_or_unfingerprinted_file(
    problems, adapter_run, tmp_path, model_cache, monkeypatch
):
    """Issue 10.2: a killed generation resumed with another adapter used to mix the models."""
    from tracekd_core.errors import ResumeMismatchError

    out = tmp_path / "pred.jsonl"
    real, calls = gen.generate_batch, []

    def dies_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(gen, "generate_batch", dies_on_second_batch)
    cfg = CFG.model_copy(update={"batch_size": 1})
    with pytest.raises(KeyboardInterrupt):
        gen.generate("tiny-random", problems, out, cfg=cfg, cache_dir=model_cache)
    monkeypatch.setattr(gen, "generate_batch", real)
    before = gen.partial_path(out).read_text()
    with pytest.raises(ResumeMismatchError, match="'adapter_sha'"):
        gen.generate(
            "tiny-random", problems, out, cfg=cfg, adapter=adapter_run, cache_dir=model_cache
        )
    longer = cfg.model_copy(update={"max_new_tokens": 7})
    with pytest.raises(ResumeMismatchError, match="'decoding'"):
        gen.generate("tiny-random", problems, out, cfg=longer, cache_dir=model_cache)
    assert gen.partial_path(out).read_text() == before  # nothing appended
    gen.generate("tiny-random", problems, out, cfg=cfg, cache_dir=model_cache)  # same setup: ok
    assert len(gen.load_predictions(out)) == len(problems)
    gen.fingerprint_path(out).unlink()
    with pytest.raises(ResumeMismatchError, match="no pred.fingerprint.json"):
        gen.generate("tiny-random", problems + problems[:0], out, cfg=cfg, cache_dir=model_cache)


def test_torn_last_line_is_dropped_on_resume(problems, tmp_path, model_cache, monkeypatch):
    """Issue 10.6: a line cut by a kill mid-write used to block every resume."""
    out = tmp_path / "pred.jsonl"
    real, calls = gen.generate_batch, []

    def dies_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(gen, "generate_batch", dies_on_second_batch)
    cfg = CFG.model_copy(update={"batch_size": 1})
    with pytest.raises(KeyboardInterrupt):
        gen.generate("tiny-random", problems, out, cfg=cfg, cache_dir=model_cache)
    monkeypatch.setattr(gen, "generate_batch", real)
    with gen.partial_path(out).open("a") as fh:
        fh.write('{"id": "' + problems[-1].id + '", "outp')
    gen.generate("tiny-random", problems, out, cfg=cfg, cache_dir=model_cache)
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert sorted(ids) == sorted(p.id for p in problems)


def test_out_naming_a_folder_is_a_config_error(problems, tmp_path):
    """Issue 10.7: ``--out`` naming an existing folder used to raise IsADirectoryError."""
    from tracekd_core.errors import ConfigError

    with pytest.raises(ConfigError, match="is a folder"):
        gen.generate("tiny-random", problems, tmp_path, cfg=CFG)


def test_negative_limit_is_refused(problems, tmp_path):
    """Issue 10.8: ``--limit -8`` used to drop the last 8 problems silently."""
    from tracekd_core.errors import ConfigError

    with pytest.raises(ConfigError, match="--limit -8"):
        gen.generate("tiny-random", problems, tmp_path / "p.jsonl", cfg=CFG, limit=-8)


def test_corrupted_or_foreign_adapter_is_a_named_error(adapter_run, tmp_path, model_cache):
    """Issue 10.7: corrupted adapters and adapters of another base model raised tracebacks."""
    import shutil

    from tracekd_core.errors import ConfigError

    bad = tmp_path / "run"
    shutil.copytree(adapter_run / "adapter", bad / "adapter")
    conf_path = bad / "adapter" / "adapter_config.json"
    conf = json.loads(conf_path.read_text())
    conf_path.write_text(json.dumps(conf | {"base_model_name_or_path": "smollm2-135m"}))
    with pytest.raises(ConfigError, match="base_model_name_or_path"):
        gen.load_for_generation("tiny-random", adapter=bad, cache_dir=model_cache)
    conf_path.write_text(json.dumps(conf))
    weights = next((bad / "adapter").glob("adapter_model.*"))
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelUnavailableError, match="does not load"):
        gen.load_for_generation("tiny-random", adapter=bad, cache_dir=model_cache)
    conf_path.write_text("{not json")
    with pytest.raises(ModelUnavailableError, match="not valid JSON"):
        gen.load_for_generation("tiny-random", adapter=bad, cache_dir=model_cache)
