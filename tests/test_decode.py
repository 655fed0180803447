"""Greedy decoding with a shared-prefix KV cache and a shrinking batch (decode.py)."""

from __future__ import annotations

import pytest

from tracekd_core.records import read_problems
from tracekd_core.students.decode import common_prefix_len, greedy_decode
from tracekd_core.students.render import render_prompt
from tracekd_core.traces.prompts import prompt_messages


@pytest.fixture(scope="module")
def prompts(render_dir, tiny_student):
    _, tok = tiny_student
    problems = read_problems(render_dir / "problems.jsonl")
    return [
        tok(render_prompt(prompt_messages(p), tok), add_special_tokens=False)["input_ids"]
        for p in problems
    ]


def _hf_greedy(model, tok, prompt, n):
    import torch

    with torch.inference_mode():
        out = model.generate(
            input_ids=torch.tensor([prompt]),
            attention_mask=torch.ones((1, len(prompt)), dtype=torch.long),
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
    return out[0, len(prompt) :].tolist()


def test_single_prompt_matches_transformers_generate(tiny_student, prompts):
    model, tok = tiny_student
    for p in prompts[:2]:
        ours, stats = greedy_decode(
            model, [p], max_new_tokens=7, pad_id=tok.pad_token_id, end_ids=set()
        )
        assert ours[0] == _hf_greedy(model, tok, p, 7)
        assert stats["shared_prefix"] == 0


def test_shared_prefix_batch_equals_one_at_a_time(tiny_student, prompts):
    model, tok = tiny_student
    assert common_prefix_len(prompts) >= 8  # chat header + system prompt + instruction
    kw = dict(max_new_tokens=6, pad_id=tok.pad_token_id, end_ids=set())
    batched, stats = greedy_decode(model, prompts, **kw)
    assert stats["shared_prefix"] == common_prefix_len(prompts)
    assert (
        stats["prefill_tokens"]
        == sum(map(len, prompts)) - (len(prompts) - 1) * stats["shared_prefix"]
    )
    single = [greedy_decode(model, [p], **kw)[0][0] for p in prompts]
    assert batched == single


def test_finished_rows_leave_the_batch_without_disturbing_the_others(tiny_student, prompts):
    model, tok = tiny_student
    kw = dict(max_new_tokens=6, pad_id=tok.pad_token_id, end_ids=set())
    full, full_stats = greedy_decode(model, prompts, **kw)
    seen: list[list[int]] = []

    def stop_row_0_after_two(ids):  # the first list ever checked is row 0's output
        if not seen:
            seen.append(ids)
        return ids is seen[0] and len(ids) == 2

    cut, stats = greedy_decode(
        model, prompts, is_stopped=stop_row_0_after_two, compact_share=0.0, **kw
    )
    assert cut[0] == full[0][:2]
    assert cut[1:] == full[1:]
    assert stats["decode_row_steps"] == full_stats["decode_row_steps"] - (6 - 2)
    assert stats["compactions"] == 1
    seen.clear()  # a lazy drop (the default share) gives the same outputs
    lazy, _ = greedy_decode(model, prompts, is_stopped=stop_row_0_after_two, **kw)
    assert lazy == cut


def test_preallocated_cache_refuses_to_overflow():
    import torch

    from tracekd_core.students.decode_cache import PreallocatedLayer

    layer = PreallocatedLayer(capacity=2)
    layer.update(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match="capacity 2 exceeded"):
        layer.update(torch.ones(1, 1, 1, 2), torch.ones(1, 1, 1, 2))


def test_end_id_ends_a_row_and_is_kept(tiny_student, prompts):
    model, tok = tiny_student
    ref, _ = greedy_decode(model, prompts[:1], max_new_tokens=5, pad_id=0, end_ids=set())
    out, stats = greedy_decode(model, prompts[:1], max_new_tokens=5, pad_id=0, end_ids={ref[0][1]})
    k = ref[0].index(ref[0][1])
    assert out[0] == ref[0][: k + 1]
    assert stats["decode_row_steps"] == k
