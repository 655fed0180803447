"""Shared test fixtures (offline, CPU). Others may add fixtures here."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(config, items):
    """Hub tests (``@pytest.mark.network``) never run here: the machine is offline."""
    skip = pytest.mark.skip(reason="needs the Hugging Face Hub (offline machine)")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The model cache (created on first use: the embedded tokenizer is converted once, ~6 s)."""
    from tracekd_core.students.catalog import DEFAULT_CACHE_DIR

    return DEFAULT_CACHE_DIR


@pytest.fixture(scope="session")
def render_dir() -> Path:
    """``tests/fixtures/render``: SFT records, test problems, chat templates, golden files."""
    return FIXTURES / "render"


@pytest.fixture(scope="session")
def sft_path(render_dir) -> Path:
    """Three CoTemp-style correct-trace SFT records (built by decompose, then frozen)."""
    return render_dir / "sft_correct.jsonl"


@pytest.fixture(scope="session")
def sft_records(render_dir) -> list[dict]:
    """Every SFT kind: correct, incorrect, label_only, none (one file per kind)."""
    from tracekd_core.traces.sft import read_sft

    kinds = ("correct", "incorrect", "label_only", "none")
    return [r for k in kinds for r in read_sft(render_dir / f"sft_{k}.jsonl")]


@pytest.fixture(scope="session")
def smol_tokenizer(model_cache):
    """The embedded SmolLM2 tokenizer (its own ChatML template)."""
    from tracekd_core.students.catalog import load_tokenizer

    return load_tokenizer("smollm2-135m", cache_dir=model_cache)


@pytest.fixture(scope="session")
def tiny_student(model_cache):
    """``(model, tokenizer)`` of the tiny-random student in float32 (session-scoped)."""
    from tracekd_core.students.catalog import load_student

    return load_student("tiny-random", dtype="float32", cache_dir=model_cache)
