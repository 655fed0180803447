"""Training loss (loss.py): chunked LM-head cross-entropy and mixed-precision adapters."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tracekd_core.students.loss import (  # noqa: E402
    chunked_cross_entropy_sum,
    lm_loss_sum,
    mixed_precision,
)
from tracekd_core.students.render import IGNORE_INDEX  # noqa: E402


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_chunked_cross_entropy_matches_torch(chunk):
    g = torch.Generator().manual_seed(1)
    h = torch.randn(7, 16, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(50, 16, generator=g, dtype=torch.float64)
    t = torch.randint(0, 50, (7,), generator=g)
    ref = torch.nn.functional.cross_entropy(h @ w.t(), t, reduction="sum")
    (ref_grad,) = torch.autograd.grad(ref * 0.5, h)
    got = chunked_cross_entropy_sum(h, w, t, chunk=chunk)
    (got_grad,) = torch.autograd.grad(got * 0.5, h)  # the upstream gradient is applied
    assert torch.allclose(got.double(), ref, rtol=1e-6)
    assert torch.allclose(got_grad, ref_grad, rtol=1e-6, atol=1e-9)


def _batch(tok, n=3, length=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(
        3, tok.vocab_size if hasattr(tok, "vocab_size") else 100, (n, length), generator=g
    )
    labels = ids.clone()
    labels[:, :5] = IGNORE_INDEX  # a prompt
    labels[0, -3:] = IGNORE_INDEX  # right padding of row 0
    return ids, labels


def test_lm_loss_sum_chunked_equals_plain_path(tiny_student):
    model, tok = tiny_student
    ids, labels = _batch(tok)
    model.zero_grad()
    plain = lm_loss_sum(model, ids, labels, chunk=None)
    plain.backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    chunked = lm_loss_sum(model, ids, labels, chunk=4)
    chunked.backward()
    got = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    assert torch.allclose(chunked, plain, rtol=1e-5)
    # the head is the (tied) embedding: the plain path trains it, the chunked path is only taken
    # for a frozen head, so compare every body gradient
    body = [n for n in ref if "embed" not in n and "lm_head" not in n]
    assert body and set(body) <= set(got)
    for n in body:
        assert torch.allclose(got[n], ref[n], rtol=1e-4, atol=1e-6), n


def _lora(model_cache, dtype):
    from peft import LoraConfig, get_peft_model

    from tracekd_core.students.catalog import load_student

    model, tok = load_student("tiny-random", dtype=dtype, cache_dir=model_cache)
    torch.manual_seed(0)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "up_proj"])
    peft_model = get_peft_model(model, cfg)
    for n, p in peft_model.named_parameters():  # a non-zero B so that A gets a gradient too
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.02)
    return peft_model, tok


def test_mixed_precision_is_a_no_op_in_float32(model_cache):
    model, _ = _lora(model_cache, "float32")
    with mixed_precision(model, "float32") as on:
        assert on is False and not torch.is_autocast_enabled("cpu")


def test_mixed_precision_runs_adapters_in_bf16_with_fp32_masters(model_cache):
    model, tok = _lora(model_cache, "bfloat16")
    adapters = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert adapters and all(p.dtype == torch.float32 for p in adapters.values())  # PEFT upcasts
    seen = []
    lora_a = next(m for n, m in model.named_modules() if n.endswith("q_proj.lora_A.default"))
    handle = lora_a.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    ids, labels = _batch(tok)
    try:
        lm_loss_sum(model, ids, labels).backward()
        ref = {n: p.grad.clone() for n, p in adapters.items()}
        model.zero_grad()
        with mixed_precision(model, "bfloat16"):
            loss = lm_loss_sum(model, ids, labels)
        loss.backward()
    finally:
        handle.remove()
    assert seen == [torch.float32, torch.bfloat16]  # PEFT's upcast, then autocast's bf16
    for n, p in adapters.items():
        assert p.grad.dtype == torch.float32  # the master weights' gradient
        err = (p.grad - ref[n]).norm() / ref[n].norm()
        assert err < 0.05, (n, float(err))
    # autocast and PEFT's input casting are restored after the context (no leak into later code)
    assert not torch.is_autocast_enabled("cpu")
    assert all(getattr(m, "cast_input_dtype_enabled", True) for m in model.modules())
