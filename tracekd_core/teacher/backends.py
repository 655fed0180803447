"""Teacher backends behind one interface, with a content-addressed call cache (paper section 4).

The reference distilled DeepSeek-R1's verbose traces (``reasoning_content``) into students.
``HttpTeacher`` talks to any OpenAI-compatible ``/chat/completions`` endpoint (DeepSeek's
``deepseek-reasoner``, a vLLM or ollama server); the API key is read from the environment
variable named by the caller and is never written to disk or logs. ``cached_chat`` stores every
reply under a hash of (backend, model, messages, parameters), so an interrupted pipeline resumes
without paying for a call twice.

Examples
--------
>>> call_key("http", "m", [{"role": "user", "content": "hi"}], {"temperature": 0}) == call_key(
...     "http", "m", [{"role": "user", "content": "hi"}], {"temperature": 0})
True
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TeacherError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeacherReply:
    """One teacher turn: the reasoning trace (``None`` if the backend gives none) and the text."""

    reasoning: str | None
    content: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return {"reasoning": self.reasoning, "content": self.content}


def call_key(backend: str, model: str, messages: list[dict], params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of one call (the cache key)."""
    blob = json.dumps([backend, model, messages, params], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def parse_reply(body: Any, *, url: str) -> TeacherReply:
    """Extract ``reasoning_content`` and ``content`` of an OpenAI-style chat completion.

    Raises
    ------
    TeacherError
        If ``choices[0].message.content`` is missing or not a string.

    Examples
    --------
    >>> parse_reply({"choices": [{"message": {"content": "4", "reasoning_content": "2+2"}}]},
    ...             url="u")
    TeacherReply(reasoning='2+2', content='4')
    """
    try:
        msg = body["choices"][0]["message"]
        content = msg["content"]
    except (KeyError, IndexError, TypeError) as e:
        raise TeacherError(
            f"{url}: malformed chat completion (no choices[0].message.content): "
            f"{str(body)[:200]!r}. Check that the endpoint is OpenAI-compatible."
        ) from e
    reasoning = msg.get("reasoning_content")
    if not isinstance(content, str) or (reasoning is not None and not isinstance(reasoning, str)):
        raise TeacherError(
            f"{url}: field 'content'/'reasoning_content' is not a string: {str(msg)[:200]!r}."
        )
    return TeacherReply(reasoning, content)


class HttpTeacher:
    """An OpenAI-compatible chat endpoint (paper 4: DeepSeek-R1 via ``deepseek-reasoner``).

    Parameters
    ----------
    base_url : str
        Endpoint root, e.g. ``https://api.deepseek.com`` or ``http://127.0.0.1:8000/v1``.
    model : str
        Model name sent in the request.
    api_key_env : str or None
        Name of the environment variable holding the key (``None``: no key, local servers).
    max_retries, backoff : int and float
        Retries on connection errors, 429 and 5xx, with exponential backoff (seconds).
    min_interval : float
        Rate limit: minimum seconds between two requests.
    timeout : float
        Per-request timeout in seconds.
    """

    backend = "http"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = "DEEPSEEK_API_KEY",
        max_retries: int = 4,
        backoff: float = 1.0,
        min_interval: float = 0.0,
        timeout: float = 600.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_retries, self.backoff = max_retries, backoff
        self.min_interval, self.timeout = min_interval, timeout
        self._last = 0.0
        self._headers = {"Content-Type": "application/json"}
        if api_key_env is not None:
            key = os.environ.get(api_key_env)
            if not key:
                raise TeacherError(
                    f"environment variable {api_key_env!r} is not set. Export the API key there "
                    "(it is never written to disk), or pass api_key_env=None for a local server."
                )
            self._headers["Authorization"] = f"Bearer {key}"

    def chat(self, messages: list[dict], params: dict[str, Any]) -> TeacherReply:
        """One chat completion; retries transient failures, raises ``TeacherError`` otherwise."""
        import httpx

        payload = {"model": self.model, "messages": messages, **params}
        last_err = ""
        for attempt in range(self.max_retries + 1):
            wait = self.min_interval - (time.monotonic() - self._last)
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
            try:
                r = httpx.post(self.url, json=payload, headers=self._headers, timeout=self.timeout)
            except httpx.HTTPError as e:
                last_err = f"unreachable ({type(e).__name__}: {e})"
            else:
                if r.status_code == 200:
                    try:
                        body = r.json()
                    except ValueError as e:
                        raise TeacherError(
                            f"{self.url}: response is not JSON: {r.text[:200]!r}."
                        ) from e
                    return parse_reply(body, url=self.url)
                last_err = f"HTTP {r.status_code}: {r.text[:200]!r}"
                if r.status_code not in (408, 409, 429) and r.status_code < 500:
                    raise TeacherError(f"{self.url}: {last_err}. Check the model name and key.")
            if attempt < self.max_retries:
                delay = self.backoff * 2**attempt
                log.warning("teacher %s: %s; retry in %.1fs", self.url, last_err, delay)
                time.sleep(delay)
        raise TeacherError(
            f"{self.url}: {last_err} after {self.max_retries + 1} attempts. Check that the "
            "server is running and base_url is right (e.g. http://127.0.0.1:8000/v1)."
        )


def split_think(text: str) -> TeacherReply:
    """Split a local model's output into ``<think>`` reasoning and the rest.

    Examples
    --------
    >>> split_think("<think>a</think> <answer>b</answer>")
    TeacherReply(reasoning='a', content='<answer>b</answer>')
    >>> split_think("plain")
    TeacherReply(reasoning=None, content='plain')
    """
    head, sep, tail = text.partition("</think>")
    if not sep:
        return TeacherReply(None, text.strip())
    return TeacherReply(head.split("<think>", 1)[-1].strip(), tail.strip())


class LocalTeacher:
    """A transformers model of the student registry as teacher (the offline default).

    The embedded ``smollm2-135m`` is a weak teacher: it solves few problems, so the
    teacher-solved subset is small (the book says so). Greedy decoding via
    ``generate.generate_batch``; ``params`` may set ``max_new_tokens``.

    Parameters
    ----------
    model_name : str
        Student registry name (``smollm2-135m``, ``tiny-random``) or local folder.
    model, tokenizer : optional
        Already loaded ``(model, tokenizer)`` (tests reuse a session fixture).
    cache_dir : path, optional
        Model cache of ``students.load_student``.
    """

    backend = "local"

    def __init__(self, model_name: str, *, model: Any = None, tokenizer: Any = None, **load_kw):
        self.model_name = self.model = model_name
        if model is None:
            from ..students.catalog import load_student

            model, tokenizer = load_student(model_name, dtype="float32", **load_kw)
        self._model, self._tok = model, tokenizer

    def chat(self, messages: list[dict], params: dict[str, Any]) -> TeacherReply:
        """Greedy chat completion with the local model."""
        from ..config import GenerateConfig
        from ..students.generate import generate_batch

        ids = self._tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        ids = list(getattr(ids, "input_ids", ids))
        cfg = GenerateConfig(max_new_tokens=int(params.get("max_new_tokens", 256)), stop="")
        out = generate_batch(self._model, self._tok, [ids], cfg)[0]
        return split_think(out["output"])


def cached_chat(
    teacher: Any, messages: list[dict], params: dict[str, Any], cache_dir: str | Path
) -> TeacherReply:
    """``teacher.chat`` through a file cache keyed by ``call_key`` (resumable pipelines).

    A cache file is written atomically (temp file + rename), so a crash never leaves a torn
    entry; the key and request headers are not stored.
    """
    key = call_key(teacher.backend, teacher.model, messages, params)
    path = Path(cache_dir) / key[:2] / f"{key}.json"
    if path.exists():
        d = json.loads(path.read_text(encoding="utf-8"))
        return TeacherReply(d["reasoning"], d["content"])
    reply = teacher.chat(messages, params)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(reply.to_dict(), ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return reply
