"""The training loss and its numerics: supervised-position cross-entropy, chunked, mixed precision.

Paper section 3 (fine-tuning): the student is trained with next-token cross-entropy on the
completion (trace + answer), never on the prompt. Two things make that cheap on a CPU without
changing what is computed:

* **Only supervised positions reach the LM head**, and the head's cross-entropy is computed in
  row chunks by :class:`ChunkedLinearCrossEntropy`, which returns the loss and keeps only the
  gradient of the hidden states (the head is frozen under LoRA). The plain path materialises a
  ``[n_supervised, vocab]`` float32 logit tensor, its log-softmax and their gradients (~60 MB each
  for SmolLM2's 49k vocabulary): allocating and touching them cost ~12% of a training step.
* **Mixed precision for the adapters**: PEFT keeps LoRA weights in float32 and casts every
  bfloat16 activation up to float32 for the adapter's two skinny matmuls (and back). Under
  ``torch.autocast`` with PEFT's input casting disabled, the adapter matmuls run in bfloat16 while
  the float32 weights stay the optimiser's master copy (the standard mixed-precision recipe):
  ~15% of a step saved, gradients within bfloat16 rounding of the float32-adapter ones.

Both are measured side by side in ``tracekd bench train`` (``docs/students.md``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .render import IGNORE_INDEX

#: rows of the LM head computed at once (64 x 49k float32 logits = 12.6 MB, cache-friendly)
CE_CHUNK = 64


def _ce_chunks(h, weight, target, chunk: int):
    """Yield ``(start, loss_sum, grad_logits)`` per chunk of rows (float32 softmax)."""
    import torch

    acc = torch.promote_types(h.dtype, torch.float32)  # float32 softmax for bf16/fp16 inputs
    for s in range(0, h.shape[0], chunk):
        t = target[s : s + chunk]
        logits = (h[s : s + chunk] @ weight.t()).to(acc)
        lse = torch.logsumexp(logits, dim=-1)
        loss = (lse - logits.gather(1, t[:, None]).squeeze(1)).sum()
        probs = logits.sub_(lse[:, None]).exp_()  # softmax, in place
        probs[torch.arange(len(t)), t] -= 1.0  # d(loss_sum)/d(logits)
        yield s, loss, probs


def _chunked_function():
    import torch

    class ChunkedLinearCrossEntropy(torch.autograd.Function):
        """``sum(cross_entropy(h @ weight.T, target))`` with the gradient computed on the way.

        The gradient w.r.t. ``h`` is ``(softmax - onehot) @ weight`` per chunk, so no full-vocab
        tensor outlives its chunk; ``weight`` must be frozen (no gradient is returned for it).
        """

        @staticmethod
        def forward(ctx, h, weight, target, chunk: int):
            total = torch.zeros((), dtype=torch.promote_types(h.dtype, torch.float32))
            grad = torch.empty_like(h)
            for s, loss, g in _ce_chunks(h.detach(), weight.detach(), target, chunk):
                total += loss
                grad[s : s + len(g)] = g.to(h.dtype) @ weight.detach()
            ctx.save_for_backward(grad)
            return total

        @staticmethod
        def backward(ctx, grad_out):
            (grad,) = ctx.saved_tensors
            return grad * grad_out.to(grad.dtype), None, None, None

    return ChunkedLinearCrossEntropy


_FUNCTION: Any = None


def chunked_cross_entropy_sum(h, weight, target, chunk: int = CE_CHUNK):
    """Summed cross-entropy of ``h @ weight.T`` against ``target``, in row chunks.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(5, 8, generator=g, requires_grad=True)
    >>> w, t = torch.randn(11, 8, generator=g), torch.tensor([1, 0, 10, 3, 3])
    >>> ref = torch.nn.functional.cross_entropy(h @ w.t(), t, reduction="sum")
    >>> bool(torch.allclose(chunked_cross_entropy_sum(h, w, t, chunk=2), ref))
    True
    """
    global _FUNCTION
    if _FUNCTION is None:
        _FUNCTION = _chunked_function()
    return _FUNCTION.apply(h, weight, target, chunk)


def lm_loss_sum(model: Any, ids, labels, *, chunk: int | None = CE_CHUNK):
    """Summed next-token cross-entropy over supervised positions; LM head only where needed.

    ``chunk=None`` (or a trainable head) takes the plain path: full logits, then
    ``torch.nn.functional.cross_entropy``.
    """
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state
    target = labels[:, 1:]
    keep = target != IGNORE_INDEX
    h = hidden[:, :-1][keep]
    head = base.get_output_embeddings()
    if chunk and not head.weight.requires_grad and getattr(head, "bias", None) is None:
        return chunked_cross_entropy_sum(h, head.weight, target[keep], chunk)
    logits = head(h).float()
    return torch.nn.functional.cross_entropy(logits, target[keep], reduction="sum")


def adapters_need_autocast(model: Any, compute_dtype: str) -> bool:
    """True when the base computes in bfloat16/float16 while trainable weights are float32."""
    import torch

    if compute_dtype not in ("bfloat16", "float16"):
        return False
    trainable = [p for p in model.parameters() if p.requires_grad]
    return any(p.dtype == torch.float32 for p in trainable)


@contextlib.contextmanager
def mixed_precision(model: Any, compute_dtype: str) -> Iterator[bool]:
    """Context for the forward pass: adapters compute in ``compute_dtype``, weights stay float32.

    A no-op (yielding False) unless :func:`adapters_need_autocast`. The backward pass runs
    outside the context (as ``torch.autocast`` recommends).
    """
    if not adapters_need_autocast(model, compute_dtype):
        yield False
        return
    import torch
    from peft.helpers import disable_input_dtype_casting

    device = next(p for p in model.parameters() if p.requires_grad).device.type
    with (
        torch.autocast(device_type=device, dtype=getattr(torch, compute_dtype)),
        disable_input_dtype_casting(model),
    ):
        yield True
