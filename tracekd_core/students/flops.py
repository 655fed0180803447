"""Model-FLOP accounting and the matmul peak it is compared with (model-FLOP utilisation).

Used by ``train.train`` (every manifest records the model FLOPs of its run) and by
``tracekd bench train`` (MFU of our loop and of TRL's ``SFTTrainer`` on the same data).

The model FLOPs are those of the *task*, counted once and identically for every contender, so MFU
ratios equal speed ratios. For LoRA fine-tuning of a frozen base on a sequence of ``T`` real tokens
of which ``S`` are supervised (``N`` = parameters of the decoder's matmuls, ``L`` layers, ``d`` the
attention width, ``V`` the vocabulary):

* linear layers: ``2N`` per token forward + ``2N`` backward for the activation gradients (the
  frozen weights get no gradient; the rank-r LoRA matmuls are < 3% and not counted): ``4 N T``;
* causal attention: ``QK^T`` and ``AV`` over the ``t`` keys each query sees, ``2 d t`` FLOPs each,
  forward + twice that backward: ``6 L d T (T + 1) / 2``;
* LM head on the supervised positions only (what the loss needs): ``4 d_model V S``.

Padding tokens are not model FLOPs: a contender that pads more is slower, not busier.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any


def body_params(model: Any) -> int:
    """Parameters of the matmuls every token goes through (no embeddings, no LM head, no LoRA)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    dec = base.get_decoder()
    emb = dec.get_input_embeddings().weight.numel()
    return sum(p.numel() for n, p in dec.named_parameters() if "lora_" not in n) - emb


def dims(model: Any) -> dict[str, int]:
    """``body_params``, layers, attention width, hidden size and vocabulary of a causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    c = base.config
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    return {
        "body_params": body_params(model),
        "n_layers": c.num_hidden_layers,
        "attn_dim": head_dim * c.num_attention_heads,
        "hidden": c.hidden_size,
        "vocab": c.vocab_size,
    }


def lora_train_flops(d: dict[str, int], lengths: Iterable[int], n_supervised: int) -> float:
    """Model FLOPs of one pass of LoRA training over sequences of ``lengths`` real tokens.

    Examples
    --------
    >>> d = {"body_params": 10, "n_layers": 1, "attn_dim": 2, "hidden": 2, "vocab": 5}
    >>> lora_train_flops(d, [3], 1)  # 4*10*3 + 6*1*2*(3*4/2) + 4*2*5*1
    232.0
    """
    lengths = list(lengths)
    linear = 4 * d["body_params"] * sum(lengths)
    attn = 6 * d["n_layers"] * d["attn_dim"] * sum(t * (t + 1) / 2 for t in lengths)
    head = 4 * d["hidden"] * d["vocab"] * n_supervised
    return float(linear + attn + head)


def matmul_peak(dtype: str, shapes: tuple[tuple[int, int, int], ...] | None = None) -> float:
    """Best dense-matmul throughput (GFLOP/s) with the current threads, over ``shapes``.

    The default shapes are a 2048^3 square and the student's own MLP shape at a training
    micro-batch (4096 x 576 x 1536); the best of them is the peak (the stricter denominator).
    """
    import torch

    shapes = shapes or ((2048, 2048, 2048), (4096, 576, 1536))
    best = 0.0
    for m, k, n in shapes:
        a = torch.randn(m, k, dtype=getattr(torch, dtype))
        b = torch.randn(k, n, dtype=getattr(torch, dtype))
        a @ b
        reps = max(3, int(2e10 // (2 * m * k * n)))
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - t) / 1e9)
    return best
