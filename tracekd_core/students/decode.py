"""Greedy decoding with a shared-prefix KV cache and a batch that shrinks as rows finish.

Paper section 5 (inference) decodes greedily; this module is how ``generate.generate_batch``
does it fast on a CPU, where every FLOP counts:

* **shared prefix once.** All prompts of a batch start with the same tokens (chat header, system
  prompt, instructions: ~35 tokens for the study's prompts; for ``intervene`` the whole problem
  prompt is shared by the batch's interventions). That prefix is run once with batch 1 and its KV
  cache is repeated for every row; only the per-prompt suffixes are prefilled, left-padded
  *between* the prefix and the suffix (masked, with explicit position ids, so each row sees the
  same positions as it would alone);
* **finished rows leave the batch.** A row stops at EOS/pad or once its text contains the stop
  string; once finished rows are a fifth of the batch they are dropped with their KV cache rows
  (``DynamicCache.batch_select_indices``), so the cost of a step follows the rows still running,
  not the longest one;
* **a preallocated KV cache** (``decode_cache.PreallocatedLayer``): ``DynamicCache`` concatenates
  every layer's keys and values at every step, i.e. allocates and copies the whole cache 60 times
  per token (measured: 6 of 9 s of decoding at batch 50); here each step writes one slot.
* **LM head on the last position only**, on a contiguous 2-D hidden state: the model's own
  ``logits_to_keep=1`` path multiplies a strided 3-D slice, which torch turns into a batched
  matmul over a per-row *copy* of the 49k x 576 head (measured: 9 s of a 13 s prefill at
  batch 50).

Outputs are the argmax tokens, as ``model.generate(do_sample=False)`` produces them; in bf16 a
different batch composition can change rounding, so ``tracekd bench generate`` measures how many
outputs are identical to one-prompt-at-a-time decoding rather than assuming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

MIN_SHARED_PREFIX = 8  # below this the extra forward pass costs more than it saves
COMPACT_SHARE = 0.2  # drop finished rows once they are a fifth of the batch (one cache copy each)


def common_prefix_len(prompts: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every prompt.

    Examples
    --------
    >>> common_prefix_len([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]])
    2
    >>> common_prefix_len([[7, 8]])
    2
    >>> common_prefix_len([[1], [2]])
    0
    """
    first = prompts[0]
    n = min(len(p) for p in prompts)
    for i in range(n):
        t = first[i]
        if any(p[i] != t for p in prompts):
            return i
    return n


def greedy_decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    pad_id: int,
    end_ids: set[int],
    is_stopped: Callable[[list[int]], bool] | None = None,
    min_shared: int = MIN_SHARED_PREFIX,
    compact_share: float = COMPACT_SHARE,
) -> tuple[list[list[int]], dict[str, int]]:
    """Greedy continuation of each prompt; returns (new token ids per prompt, stats).

    Parameters
    ----------
    model : transformers causal LM (or a PEFT wrapper of one)
    prompts : list of list of int
        Token ids, without padding.
    max_new_tokens : int
        Budget per row.
    pad_id : int
        Id used for the (masked) padding between the shared prefix and each suffix.
    end_ids : set of int
        A row ends after emitting one of these (EOS, pad); the id is kept in its output.
    is_stopped : callable, optional
        ``is_stopped(new_ids) -> bool``, e.g. "the decoded tail contains ``</answer>``".
    min_shared : int
        Reuse the shared prefix only if it is at least this long.
    compact_share : float
        Finished rows are dropped from the batch (and the cache) once they are at least this
        share of it; until then they ride along, their tokens ignored. 0 drops them at once.

    Returns
    -------
    (outputs, stats)
        ``outputs[i]`` are the new ids of ``prompts[i]`` (ending with the end id or the token
        that completed the stop string, or ``max_new_tokens`` long); ``stats`` counts the
        shared prefix, prefilled suffix tokens and decode row-steps.
    """
    import torch
    from transformers import DynamicCache

    from .decode_cache import PreallocatedLayer

    n_rows = len(prompts)
    lcp = common_prefix_len(prompts) if n_rows > 1 else 0
    lcp = min(lcp, min(len(p) for p in prompts) - 1)  # every row keeps >= 1 suffix token
    if lcp < min_shared:
        lcp = 0
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = base.get_decoder(), base.get_output_embeddings()
    cache = DynamicCache(config=base.config)
    width = max(len(p) for p in prompts) - lcp
    cache.layers = [PreallocatedLayer(lcp + width + max_new_tokens) for _ in cache.layers]
    with torch.inference_mode():
        if lcp:
            prefix = torch.tensor([list(prompts[0][:lcp])])
            decoder(input_ids=prefix, past_key_values=cache, use_cache=True)
            cache.batch_repeat_interleave(n_rows)
        suffixes = [list(p[lcp:]) for p in prompts]
        ids = torch.full((n_rows, width), pad_id, dtype=torch.long)
        mask = torch.zeros((n_rows, lcp + width), dtype=torch.long)
        mask[:, :lcp] = 1
        pos = torch.ones((n_rows, width), dtype=torch.long)
        for r, s in enumerate(suffixes):
            ids[r, width - len(s) :] = torch.tensor(s)
            mask[r, lcp + width - len(s) :] = 1
            pos[r, width - len(s) :] = torch.arange(lcp, lcp + len(s))
        nxt = _next_tokens(
            decoder, head, input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache
        )
        next_pos = torch.tensor([lcp + len(s) for s in suffixes])
        rows = list(range(n_rows))  # batch row -> prompt index
        alive = [True] * n_rows
        outputs: list[list[int]] = [[] for _ in range(n_rows)]
        row_steps = compactions = 0
        for step in range(max_new_tokens):
            for i, r in enumerate(rows):
                if alive[i]:
                    t = int(nxt[i])
                    outputs[r].append(t)
                    if t in end_ids or (is_stopped is not None and is_stopped(outputs[r])):
                        alive[i] = False
            n_alive = sum(alive)
            if not n_alive or step == max_new_tokens - 1:
                break
            if len(rows) - n_alive >= max(1.0, compact_share * len(rows)):
                keep = [i for i, a in enumerate(alive) if a]
                sel = torch.tensor(keep)
                cache.batch_select_indices(sel)
                mask, nxt, next_pos = mask[sel], nxt[sel], next_pos[sel]
                rows, alive = [rows[i] for i in keep], [True] * len(keep)
                compactions += 1
            mask = torch.cat([mask, torch.ones((len(rows), 1), dtype=mask.dtype)], dim=1)
            nxt = _next_tokens(
                decoder,
                head,
                input_ids=nxt[:, None],
                attention_mask=mask,
                position_ids=next_pos[:, None],
                cache=cache,
            )
            row_steps += len(rows)
            next_pos = next_pos + 1
    stats = {
        "shared_prefix": lcp,
        "prefill_tokens": sum(len(s) for s in suffixes) + lcp,
        "padded_prefill_tokens": n_rows * width + lcp,
        "decode_row_steps": row_steps,
        "compactions": compactions,
    }
    return outputs, stats


def _next_tokens(decoder: Any, head: Any, *, input_ids, attention_mask, position_ids, cache):
    """Run the decoder (filling ``cache``); the argmax token of each row's last position."""
    hidden = decoder(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        past_key_values=cache,
        use_cache=True,
    ).last_hidden_state
    return head(hidden[:, -1].contiguous()).float().argmax(-1)
