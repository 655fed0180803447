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


@pytest.fixture(scope="session")
def study_problems() -> list:
    """Six synthetic bAbI test problems (stimuli of the study-kit tests)."""
    from tracekd_core.config import DataConfig
    from tracekd_core.datasets import make_problems

    cfg = DataConfig(dataset="babi", n_train=1, n_test=6, n_distractors=2)
    return [p for p in make_problems(cfg, 0) if p.split == "test"]


@pytest.fixture(scope="session")
def study_teacher_output(study_problems, tmp_path_factory) -> Path:
    """A teacher-pipeline output folder (``teacher_traces.jsonl``) for ``study_problems``.

    Problem 0 is unsolved (``correct`` false) and problem 1 has no summary, so neither is
    eligible; the texts differ in length per type so the proxies have something to show.
    """
    import json

    d = tmp_path_factory.mktemp("teacher")
    rows = []
    for k, p in enumerate(study_problems):
        rows.append(
            {
                "id": p.id,
                "trace": f"Okay, let me think. {p.question} " + "Hmm, wait, let me re-check. " * 5,
                "answer": p.answers[0],
                "correct": k != 0,
                "summary": None if k == 1 else f"The story says where it is: {p.answers[0]}.",
                "explanation": f"The answer is {p.answers[0]} because the story says so.",
            }
        )
    (d / "teacher_traces.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


@pytest.fixture()
def study_stimuli(study_problems, study_teacher_output, tmp_path) -> dict:
    """Stimuli of 3 problems x the four trace types (seed 0) from ``study_teacher_output``."""
    from tracekd_core.study.design import TRACE_TYPES
    from tracekd_core.study.stimuli import make_stimuli

    return make_stimuli(
        study_problems,
        TRACE_TYPES,
        n=3,
        seed=0,
        cache_dir=tmp_path / "cache",
        teacher_output=study_teacher_output,
    )


@pytest.fixture(scope="session")
def make_study_response():
    """``make(stimuli, participant, value=fn(stimulus, item) -> 1..5, attention_ok=True)``.

    Builds the response the survey page would POST for that participant (seeded order, every
    item, both attention checks answered right unless ``attention_ok`` is false).
    """
    from tracekd_core.study.design import ATTENTION_CHECKS, ITEMS, attention_positions
    from tracekd_core.study.design import stimulus_order as order_of

    def make(stimuli, participant, value=lambda s, item: 3, attention_ok=True):
        by_sid = {s["sid"]: s for s in stimuli["stimuli"]}
        order = order_of(list(by_sid), seed=stimuli["seed"], participant=participant)
        pos = attention_positions(len(order))
        ratings = [
            {
                "stimulus": sid,
                "type": by_sid[sid]["type"],
                "problem": by_sid[sid]["problem"],
                "item": item.id,
                "value": int(value(by_sid[sid], item)),
                "position": k,
            }
            for k, sid in enumerate(order)
            for item in ITEMS
        ]
        attention = [
            {
                "check": a.id,
                "expected": a.expected,
                "value": a.expected if attention_ok else (a.expected % 5) + 1,
                "position": pos[a.id],
            }
            for a in ATTENTION_CHECKS
        ]
        return {
            "format": "tracekd-study-response/1",
            "survey_id": stimuli["survey_id"],
            "seed": stimuli["seed"],
            "participant": participant,
            "order": order,
            "ratings": ratings,
            "attention": attention,
            "started": "2026-01-01T00:00:00Z",
            "submitted": "2026-01-01T00:10:00Z",
        }

    return make
