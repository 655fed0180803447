"""Rendering and loss masks (render.py): golden texts per template, masks from spans only."""

from __future__ import annotations

import copy
import os

import pytest

from tracekd_core.errors import EmptyLossMaskError, RecordError
from tracekd_core.students.catalog import LLAMA3_TEMPLATE_KWARGS
from tracekd_core.students.render import (
    IGNORE_INDEX,
    encode_example,
    mask_view,
    render_chat,
    render_prompt,
)

#: template file -> extra template variables of the students that use it
TEMPLATES = {"smollm2": {}, "llama3": LLAMA3_TEMPLATE_KWARGS, "qwen3": {}}
UPDATE = os.environ.get("TRACEKD_UPDATE_GOLDEN") == "1"


def _kwargs(render_dir, name):
    tmpl = (render_dir / "templates" / f"{name}.jinja").read_text()
    return {"chat_template": tmpl, **TEMPLATES[name]}


def _golden_text(records, tok, kwargs, with_mask):
    parts = []
    for r in records:
        chat = render_chat(r["messages"], tok, kwargs)
        parts.append(f"### {r['id']} kind={r['kind']} native={chat.native}\n{chat.text}")
        if with_mask:
            ex = encode_example(r, tok, template_kwargs=kwargs)
            parts.append(
                f"--- supervised ({ex.n_supervised} of {len(ex)} tokens) ---\n{mask_view(ex, tok)}"
            )
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_golden_rendering(name, render_dir, sft_records, smol_tokenizer):
    # masks are golden for the SmolLM2 tokenizer only (the other templates' special tokens are
    # not in its vocabulary, so only their text is golden)
    got = _golden_text(sft_records, smol_tokenizer, _kwargs(render_dir, name), name == "smollm2")
    path = render_dir / f"golden_{name}.txt"
    if UPDATE:
        path.write_text(got)
    assert got == path.read_text(), (
        f"rendering changed; review and regenerate {path.name} with TRACEKD_UPDATE_GOLDEN=1"
    )


def test_qwen3_think_is_kept_verbatim(render_dir, sft_records, smol_tokenizer):
    kwargs = _kwargs(render_dir, "qwen3")
    rec = next(r for r in sft_records if r["kind"] == "correct")
    content = rec["messages"][2]["content"]
    native = smol_tokenizer.apply_chat_template(rec["messages"], tokenize=False, **kwargs)
    # Qwen3's own template moves the trace into "<think>\n...\n</think>\n\n" ...
    assert "<|im_start|>assistant\n<think>\nThe temporal" in native
    assert content not in native
    # ... we keep the assistant content verbatim so the spans stay exact
    chat = render_chat(rec["messages"], smol_tokenizer, kwargs)
    assert not chat.native
    assert chat.text == chat.prompt + content + "<|im_end|>\n"
    assert chat.prompt.endswith("<|im_start|>assistant\n")
    # a vanilla target gets no injected empty think block either
    van = next(r for r in sft_records if r["kind"] == "none")
    assert "<think>" not in render_chat(van["messages"], smol_tokenizer, kwargs).completion


def test_llama3_date_is_fixed(render_dir, sft_records, smol_tokenizer):
    kwargs = _kwargs(render_dir, "llama3")
    text = render_chat(sft_records[0]["messages"], smol_tokenizer, kwargs).text
    assert "Today Date: 26 Jul 2024\n" in text
    chat = render_chat(sft_records[0]["messages"], smol_tokenizer, kwargs)
    assert chat.native and chat.suffix == "<|eot_id|>"


def _char_cover(ex, tok, chat):
    """Characters of the completion covered by supervised completion tokens."""
    enc = tok(chat.completion, add_special_tokens=False, return_offsets_mapping=True)
    labels = ex.labels[ex.n_prompt :]
    return [
        (s, e)
        for (s, e), lab in zip(enc["offset_mapping"], labels, strict=True)
        if lab != IGNORE_INDEX
    ]


def test_mask_covers_exactly_the_spans(sft_records, smol_tokenizer):
    for rec in sft_records:
        ex = encode_example(rec, smol_tokenizer)
        chat = render_chat(rec["messages"], smol_tokenizer)
        assert all(lab == IGNORE_INDEX for lab in ex.labels[: ex.n_prompt])
        spans = [tuple(s) for s in (rec["spans"]["trace"], rec["spans"]["answer"]) if s]
        covered = _char_cover(ex, smol_tokenizer, chat)
        n_content = len(chat.content)
        # every span character is supervised
        for s, e in spans:
            for c in range(s, e):
                assert any(a <= c < b for a, b in covered), (rec["id"], c)
        # every supervised token touches a span, except the single end-of-turn token
        outside = [(a, b) for a, b in covered if not any(a < e and b > s for s, e in spans)]
        assert outside == [(n_content, n_content + len("<|im_end|>"))], rec["id"]


def test_prompt_tokens_match_inference(sft_records, smol_tokenizer):
    rec = sft_records[0]
    ex = encode_example(rec, smol_tokenizer)
    prompt = render_prompt(rec["messages"][:2], smol_tokenizer)
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = smol_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ex.input_ids[: ex.n_prompt] == ids


def test_full_loss_supervises_everything(sft_records, smol_tokenizer):
    ex = encode_example(sft_records[0], smol_tokenizer, loss="full")
    assert ex.labels == ex.input_ids
    comp = encode_example(sft_records[0], smol_tokenizer)
    assert comp.input_ids == ex.input_ids and comp.n_supervised < ex.n_supervised


def test_vanilla_mask_is_answer_plus_eos(sft_records, smol_tokenizer):
    rec = next(r for r in sft_records if r["kind"] == "none")
    ex = encode_example(rec, smol_tokenizer)
    assert mask_view(ex, smol_tokenizer) == rec["messages"][2]["content"] + "<|im_end|>"


def test_truncation_that_empties_the_mask_is_refused(sft_records, smol_tokenizer):
    rec = sft_records[0]
    with pytest.raises(EmptyLossMaskError, match="max_length=40"):
        encode_example(rec, smol_tokenizer, max_length=40, where="sft.jsonl")
    ex = encode_example(
        rec, smol_tokenizer, max_length=len(encode_example(rec, smol_tokenizer)) - 3
    )
    assert ex.truncated and ex.n_supervised > 0


def test_bad_span_is_a_record_error(sft_records, smol_tokenizer):
    rec = copy.deepcopy(sft_records[0])
    rec["spans"]["answer"] = [5, 5]
    with pytest.raises(RecordError, match="spans.answer"):
        encode_example(rec, smol_tokenizer)
