"""One renderer for training and inference, with loss masks owned by the data layer's spans.

Paper sections 2.4 and 5. The reference rendered the whole conversation with the model's chat
template, trained on every token of it, and at inference rendered the prompt *without* the
generation prompt (so the model had to emit the assistant header itself). Here:

* the prompt is ``apply_chat_template(system + user, add_generation_prompt=True)`` for both
  training and inference, and is tokenised on its own, so the prompt tokens seen in training are
  exactly the ones fed to ``generate``;
* the completion is the assistant content **verbatim** followed by the template's end-of-turn
  suffix. When a template rewrites the assistant content (Qwen3 moves ``<think>`` into
  ``<think>\\n...\\n</think>\\n\\n``) the verbatim content is kept, so the recorded spans stay exact
  and the student learns the same text it will be asked to produce;
* the loss mask comes from the recorded character spans (``spans.trace`` and ``spans.answer``,
  offsets into the assistant content) -- never from searching the rendered text. A token is
  supervised when its characters overlap a span; the end-of-turn token right after the content is
  supervised too (so a no-trace student learns to stop). ``loss="full"`` supervises every token
  (the reference's behaviour, kept for comparison).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import EmptyLossMaskError, RecordError, TraceFormatError

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
_SENTINEL = "\u2063tracekd-sentinel\u2063"


@dataclass(frozen=True)
class RenderedChat:
    """A conversation split into the prompt and the completion text.

    ``prompt + completion`` is the training text; ``prompt`` alone is the inference input.
    ``completion = content + suffix`` where ``content`` is the assistant message verbatim.
    """

    prompt: str
    content: str
    suffix: str
    native: bool

    @property
    def completion(self) -> str:
        return self.content + self.suffix

    @property
    def text(self) -> str:
        return self.prompt + self.completion


@dataclass(frozen=True)
class EncodedExample:
    """Token ids and labels of one SFT example (labels are ``IGNORE_INDEX`` where unsupervised)."""

    id: str
    input_ids: list[int]
    labels: list[int]
    n_prompt: int
    truncated: bool

    @property
    def n_supervised(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE_INDEX)

    def __len__(self) -> int:
        return len(self.input_ids)


def _apply(
    tokenizer: Any, messages: list[dict[str, str]], gen: bool, kwargs: dict[str, Any]
) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=gen, **kwargs
    )


def render_prompt(
    messages: list[dict[str, str]], tokenizer: Any, template_kwargs: dict[str, Any] | None = None
) -> str:
    """The inference input: system + user turns with the generation prompt.

    Parameters
    ----------
    messages : list of dict
        ``[system, user]`` (a trailing assistant turn is ignored).
    tokenizer : transformers tokenizer
        Carries the chat template.
    template_kwargs : dict, optional
        Extra template variables (``StudentSpec.template_kwargs``).

    Examples
    --------
    >>> class Tok:  # a stand-in carrying a ChatML-style template
    ...     def apply_chat_template(self, msgs, tokenize, add_generation_prompt):
    ...         s = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in msgs)
    ...         return s + ("<|assistant|>" if add_generation_prompt else "")
    >>> render_prompt([{"role": "user", "content": "Q?"}], Tok())
    '<|user|>Q?<|end|><|assistant|>'
    """
    msgs = [m for m in messages if m["role"] != "assistant"]
    return _apply(tokenizer, msgs, True, template_kwargs or {})


def render_chat(
    messages: list[dict[str, str]], tokenizer: Any, template_kwargs: dict[str, Any] | None = None
) -> RenderedChat:
    """Split ``[system, user, assistant]`` into prompt, verbatim content and end-of-turn suffix.

    Examples
    --------
    >>> class Tok:
    ...     def apply_chat_template(self, msgs, tokenize, add_generation_prompt):
    ...         s = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in msgs)
    ...         return s + ("<|assistant|>" if add_generation_prompt else "")
    >>> r = render_chat([{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A"}],
    ...                 Tok())
    >>> (r.prompt, r.content, r.suffix, r.native)
    ('<|user|>Q?<|end|><|assistant|>', 'A', '<|end|>', True)
    """
    kwargs = template_kwargs or {}
    if not messages or messages[-1]["role"] != "assistant":
        raise TraceFormatError(
            f"render_chat needs a conversation ending with an assistant turn; "
            f"got roles {[m['role'] for m in messages]}."
        )
    prompt = render_prompt(messages[:-1], tokenizer, kwargs)
    content = messages[-1]["content"]
    full = _apply(tokenizer, messages, False, kwargs)
    if full.startswith(prompt + content):
        return RenderedChat(prompt, content, full[len(prompt) + len(content) :], True)
    # The template rewrites the assistant turn (or its header differs from the generation prompt):
    # keep the content verbatim and take the end-of-turn suffix from a sentinel rendering.
    probe = _apply(
        tokenizer, [*messages[:-1], {"role": "assistant", "content": _SENTINEL}], False, kwargs
    )
    if _SENTINEL not in probe:
        raise TraceFormatError(
            "the chat template drops the assistant content; cannot render "
            "training text. Use a template that prints assistant messages."
        )
    return RenderedChat(prompt, content, probe[probe.index(_SENTINEL) + len(_SENTINEL) :], False)


def supervised_ranges(
    spans: dict[str, Any], n_content: int, *, where: str = "<memory>"
) -> list[tuple[int, int]]:
    """Validated ``[start, end)`` character ranges of the trace and answer spans.

    Raises
    ------
    RecordError
        A span is missing, out of ``[0, n_content]``, empty or overlapping.

    Examples
    --------
    >>> supervised_ranges({"trace": [0, 5], "answer": [6, 9]}, 9)
    [(0, 5), (6, 9)]
    >>> supervised_ranges({"trace": None, "answer": [0, 3]}, 3)
    [(0, 3)]
    """
    out: list[tuple[int, int]] = []
    for key in ("trace", "answer"):
        span = spans.get(key) if isinstance(spans, dict) else None
        if span is None and key == "trace":
            continue
        if (
            not isinstance(span, list | tuple)
            or len(span) != 2
            or not all(isinstance(x, int) for x in span)
            or not 0 <= span[0] < span[1] <= n_content
        ):
            raise RecordError(
                file=where,
                line=None,
                field=f"spans.{key}",
                value=span,
                fix=f"Give [start, end) character offsets inside the assistant "
                f"content (0 <= start < end <= {n_content}).",
            )
        out.append((span[0], span[1]))
    if len(out) == 2 and out[0][1] > out[1][0]:
        raise RecordError(
            file=where,
            line=None,
            field="spans",
            value=spans,
            fix="The trace span must end before the answer span starts.",
        )
    return out


def encode_example(
    record: dict[str, Any],
    tokenizer: Any,
    *,
    loss: Literal["completion", "full"] = "completion",
    max_length: int = 1024,
    template_kwargs: dict[str, Any] | None = None,
    where: str = "<memory>",
) -> EncodedExample:
    """Tokenise one SFT record and build its labels from the recorded spans.

    Parameters
    ----------
    record : dict
        An SFT record (``messages`` = system, user, assistant; ``spans``).
    tokenizer : transformers fast tokenizer
        Must return offset mappings.
    loss : {"completion", "full"}
        ``completion`` supervises the trace and answer spans (+ the end-of-turn token);
        ``full`` supervises every token (the reference).
    max_length : int
        Longer examples are cut on the right (``truncated=True``).
    where : str
        File/line shown in error messages.

    Raises
    ------
    EmptyLossMaskError
        No token is supervised (empty spans, or everything supervised was truncated away).
    """
    rid = record.get("id", "?")
    chat = render_chat(record["messages"], tokenizer, template_kwargs)
    ranges = supervised_ranges(record.get("spans"), len(chat.content), where=f"{where} (id {rid})")
    p_ids = tokenizer(chat.prompt, add_special_tokens=False)["input_ids"]
    enc = tokenizer(chat.completion, add_special_tokens=False, return_offsets_mapping=True)
    c_ids, offsets = enc["input_ids"], enc["offset_mapping"]
    if loss == "full":
        c_labels = list(c_ids)
        p_labels = list(p_ids)
    else:
        p_labels = [IGNORE_INDEX] * len(p_ids)
        c_labels = []
        eos_done = False
        for tid, (s, e) in zip(c_ids, offsets, strict=True):
            hit = any(s < re and e > rs for rs, re in ranges)
            if not hit and not eos_done and s >= len(chat.content) and e > s:
                hit = eos_done = True  # the end-of-turn token right after the content
            c_labels.append(tid if hit else IGNORE_INDEX)
        _check_cover(ranges, offsets, c_labels, rid, where)
    ids, labels = p_ids + c_ids, p_labels + c_labels
    truncated = len(ids) > max_length
    ids, labels = ids[:max_length], labels[:max_length]
    ex = EncodedExample(str(rid), ids, labels, len(p_ids), truncated)
    if ex.n_supervised == 0:
        why = (
            f"it has {len(p_ids) + len(c_ids)} tokens, more than max_length={max_length}, and "
            "truncation removed every supervised token. Raise train.max_length"
            if truncated
            else "its spans select no token. Fix the record's spans"
        )
        raise EmptyLossMaskError(f"{where}: SFT example id {rid!r} has an empty loss mask: {why}.")
    return ex


def _check_cover(ranges, offsets, labels, rid, where) -> None:
    """After rendering: every span character is inside a supervised token (STYLE 6)."""
    covered = [(s, e) for (s, e), lab in zip(offsets, labels, strict=True) if lab != IGNORE_INDEX]
    for rs, re_ in ranges:
        pos = rs
        for s, e in covered:
            if s <= pos < e:
                pos = e
            if pos >= re_:
                break
        if pos < re_:
            raise EmptyLossMaskError(
                f"{where}: id {rid!r}: span [{rs}, {re_}) is not covered by "
                f"supervised tokens from character {pos}. The tokenizer's "
                "offsets disagree with the content; check the record."
            )


def mask_view(ex: EncodedExample, tokenizer: Any) -> str:
    """Human-readable mask: the decoded supervised tokens, runs joined by ``|`` (golden files)."""
    runs, cur = [], []
    for tid, lab in zip(ex.input_ids, ex.labels, strict=True):
        if lab != IGNORE_INDEX:
            cur.append(tid)
        elif cur:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return "|".join(tokenizer.decode(r) for r in runs)
