"""Typed, validated configuration (STYLE 3: config flows one way).

Frozen pydantic models hold every default with a help string. YAML is loaded and validated by
``load_config`` / ``load_profile`` (unknown keys and wrong types raise ``ConfigError`` naming the
file and field), then passed down explicitly. The resolved config is written into the run folder
before anything runs (``runio.run_dir``). No module reads environment variables deep inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from .errors import ConfigError, UnknownNameError
from .registry import CONDITIONS, CORRUPTIONS, DATASETS

M = TypeVar("M", bound=BaseModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Frozen):
    """One dataset of an experiment (paper section 2)."""

    dataset: str = Field(description="Which QA dataset (a name in registry.DATASETS).")
    source: str = Field(
        "synthetic",
        description="'synthetic' (offline default), 'hub', or a "
        "local folder holding the native files.",
    )
    n_train: int | None = Field(
        None, ge=1, description="Train problems (None = all / reference size)."
    )
    n_test: int | None = Field(
        None, ge=1, description="Test problems (None = all / reference size)."
    )
    every_question: bool = Field(
        False,
        description="bAbI: use every question of a story, "
        "not only the first (the reference used the first).",
    )
    marco_support: Literal["selected", "overlap"] = Field(
        "selected",
        description="MARCO gold passage: 'selected' (is_selected flags) or 'overlap' "
        "(the reference's max word-overlap rule).",
    )
    label_weights: dict[str, float] | None = Field(
        None, description="Synthetic generators: relative share of each label (None = uniform)."
    )
    n_distractors: int = Field(
        8,
        ge=0,
        description="Synthetic generators: distractor context "
        "items per problem (facts, story lines or passages).",
    )
    revision: str | None = Field(
        None,
        description="source 'hub': the dataset repo commit to load (None = the dataset "
        "module's HUB_REVISION, and if that is None too, 'main' resolved to its commit SHA at "
        "load time); the SHA is part of the data cache key.",
    )

    @model_validator(mode="after")
    def _revision_needs_hub(self) -> DataConfig:
        if self.revision is not None and self.source != "hub":
            raise ValueError(
                f"revision {self.revision!r} only applies to source 'hub' (source is "
                f"{self.source!r}); remove it or set source: hub."
            )
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_revision(self, handler):
        # An unset revision stays out of the dump so data cache keys of synthetic and folder
        # sources are unchanged; hub keys carry the resolved SHA (datasets.source_fingerprint).
        out = handler(self)
        if isinstance(out, dict) and out.get("revision") is None:
            out.pop("revision", None)
        return out

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        """The name must be registered (the registry, not a hand-kept list, knows them)."""
        if v not in DATASETS:
            raise ValueError(
                f"unknown dataset {v!r}; known: {DATASETS.names()}. Register a DatasetSpec in "
                "datasets/__init__.py (one line) to add one."
            )
        return v


class TraceConfig(_Frozen):
    """How traces are rendered and corrupted (paper sections 2.1-2.3, 3)."""

    template: str = Field("reference", description="Trace template registry name.")
    corruption: str = Field(
        "both",
        description="Corruption used for 'incorrect' traces: label | retrieval | both | swap.",
    )


class TrainConfig(_Frozen):
    """Student fine-tuning (paper section 5: QLoRA r16/alpha32, lr 2e-4 cosine, 3 epochs)."""

    student: str = Field("smollm2-135m", description="Student registry name, hub id or folder.")
    quant: Literal["nf4", "none"] = Field(
        "nf4",
        description="nf4 = QLoRA (bitsandbytes 4-bit "
        "NF4, double quant); none = plain LoRA on bf16 weights.",
    )
    loss: Literal["completion", "full"] = Field(
        "completion",
        description="completion = loss on trace+answer only; full = whole text (reference).",
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA alpha.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    lr: float = Field(2e-4, gt=0, description="Peak learning rate.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Share of steps with linear warmup.")
    epochs: float = Field(3.0, gt=0, description="Training epochs.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimiser steps.")
    batch_size: int = Field(4, ge=1, description="Per-device micro-batch size.")
    grad_accum: int = Field(4, ge=1, description="Gradient accumulation steps.")
    max_length: int = Field(
        1024, ge=16, description="Max tokens per example (longer are cut; counted)."
    )
    dtype: Literal["bfloat16", "float32", "float16", "auto"] = Field(
        "auto",
        description="Compute dtype; auto = bfloat16 where bf16 matmuls are native (CUDA, "
        "AVX512-BF16/AMX CPUs), else float32 (bf16 is ~5x slower than fp32 on AVX2-only CPUs).",
    )
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory.")
    attn_implementation: Literal["auto", "eager", "sdpa"] = Field(
        "auto",
        description="Attention kernel while training. auto: eager on CPU (measured faster than "
        "torch's CPU flash kernel for these short sequences, forward + backward), sdpa on GPU.",
    )
    save_steps: int = Field(50, ge=1, description="Checkpoint every N optimiser steps (resume).")
    num_threads: int | None = Field(None, ge=1, description="torch threads (None = leave as is).")


class GenerateConfig(_Frozen):
    """Decoding (paper section 5, fixed: greedy, stop at </answer>, generation prompt added)."""

    max_new_tokens: int = Field(500, ge=1, description="Generation budget per problem.")
    batch_size: int = Field(16, ge=1, description="Problems per generation batch.")
    do_sample: bool = Field(
        False, description="Greedy by default (the reference silently sampled)."
    )
    temperature: float = Field(1.0, gt=0, description="Only used when do_sample is true.")
    top_p: float = Field(1.0, gt=0, le=1, description="Only used when do_sample is true.")
    stop: str = Field("</answer>", description="Stop a sequence once it emits this string.")
    dtype: Literal["bfloat16", "float32", "float16", "auto"] = Field(
        "auto", description="Weights/compute dtype for generation (auto: see TrainConfig.dtype)."
    )


class ScoreConfig(_Frozen):
    """Decoupled evaluation (paper section 6)."""

    answer_scoring: Literal["strict", "reference"] = Field("strict", description="Answer scorer.")
    trace_scoring: Literal["strict", "reference"] = Field("strict", description="Trace scorer.")


#: The teacher stage's conditions, in table order (each registered in ``experiment/conditions.py``).
TEACHER_CONDITIONS = (
    "teacher_trace",
    "teacher_summary",
    "teacher_explanation",
    "teacher_none",
    "teacher_correct",
    "teacher_incorrect",
    "teacher_swap",
)

#: Forced-trace kinds of the intervention stage (chapter 7, ``experiment/intervene.py``).
INTERVENTION_KINDS = (
    "own",
    "gold",
    "label",
    "retrieval",
    "both",
    "other",
    "truncated",
    "filler",
    "empty",
)


class InterventionConfig(_Frozen):
    """Inference-time interventions on the trace (book chapter 7; ``intervene.py``)."""

    enabled: bool = Field(False, description="Run the intervention stage (explicit opt-in).")
    conditions: list[str] = Field(
        ["correct", "incorrect"], description="Trained conditions whose students are probed."
    )
    n_problems: int = Field(30, ge=1, description="Test problems per student (a fixed sample).")
    kinds: list[str] = Field(
        ["own", "gold", "both", "other", "truncated", "filler", "empty"],
        min_length=1,
        description="Intervention kinds (INTERVENTION_KINDS).",
    )
    max_new_tokens: int = Field(24, ge=1, description="Answer budget after the forced trace.")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in INTERVENTION_KINDS]
        if bad:
            raise ValueError(
                f"unknown intervention kind(s) {bad}; known: {list(INTERVENTION_KINDS)}"
            )
        return v


class StudyConfig(_Frozen):
    """The interpretability study of book chapter 6 (paper section 7; ``study/``)."""

    conditions: list[str] = Field(
        ["teacher_trace", "teacher_summary", "teacher_explanation", "decomposed"],
        min_length=1,
        description="Trace types shown (study_design.TRACE_TYPES).",
    )
    n_problems: int = Field(4, ge=1, description="Sampled test problems (x types = stimuli).")
    seed: int = Field(0, description="Sampling, stimulus ids and per-participant order seed.")
    teacher: str | None = Field(
        None, description="Local teacher for pilot stimuli (None = the profile's first student)."
    )
    teacher_traces: str | None = Field(
        None, description="Teacher-pipeline output (file or folder) to take stimuli from."
    )
    max_new_tokens: int = Field(96, ge=1, description="Local teacher budget per call.")
    max_failed_checks: int = Field(0, ge=0, description="Attention checks a kept rater may fail.")
    dir: str | None = Field(None, description="Study folder (None = <runs_root>/<profile>/study).")


class TeacherConfig(_Frozen):
    """The teacher stage (paper section 4; ``experiment/teacher_stage.py``, ``docs/teacher.md``)."""

    enabled: bool = Field(False, description="Run the teacher stage (explicit opt-in).")
    backend: Literal["local", "http", "file"] = Field(
        "local",
        description="local = a student-registry model; http = an OpenAI-compatible endpoint; "
        "file = rows written earlier by `tracekd teacher --out` (traces_file).",
    )
    model: str = Field("smollm2-135m", description="Registry name (local) or endpoint model.")
    base_url: str | None = Field(None, description="Endpoint root (http), e.g. a vLLM /v1.")
    api_key_env: str | None = Field(
        "DEEPSEEK_API_KEY", description="Environment variable holding the key (http; null: none)."
    )
    traces_file: str | None = Field(
        None, description="file backend: teacher_traces.jsonl (train and test rows)."
    )
    datasets: list[str] = Field(
        ["cotemp"], min_length=1, description="Datasets of the profile the teacher answers."
    )
    n_problems: int | None = Field(
        None, ge=1, description="First N train problems the teacher answers (None = all)."
    )
    n_test: int | None = Field(
        None, ge=1, description="First N test problems the teacher answers (None = all)."
    )
    eval_subset: Literal["teacher_solved", "all"] = Field(
        "teacher_solved",
        description="Common test subset of every teacher condition: the test problems the "
        "teacher solved (the reference's R1-solvable subset) or all first n_test.",
    )
    conditions: list[str] = Field(
        [
            "teacher_trace",
            "teacher_summary",
            "teacher_explanation",
            "teacher_none",
            "teacher_correct",
            "teacher_incorrect",
            "teacher_swap",
        ],
        min_length=1,
        description="Teacher-stage condition names (config.TEACHER_CONDITIONS).",
    )
    seeds: list[int] | None = Field(
        None, min_length=1, description="Training seeds (None = the profile's seeds)."
    )
    max_new_tokens: int = Field(256, ge=1, description="Teacher budget per call (local backend).")
    min_interval: float = Field(0.0, ge=0, description="http: minimum seconds between requests.")
    max_retries: int = Field(4, ge=0, description="http: retries on 429/5xx/connection errors.")
    student_max_new_tokens: int | None = Field(
        None, ge=1, description="Students' generation budget here (None = generate.max_new_tokens)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TeacherConfig:
        bad = [c for c in self.conditions if c not in TEACHER_CONDITIONS]
        if bad:
            raise ValueError(f"unknown teacher condition(s) {bad}; known: {TEACHER_CONDITIONS}")
        if len(set(self.conditions)) != len(self.conditions):
            raise ValueError(f"conditions must be unique, got {self.conditions}")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be unique, got {self.seeds}")
        if self.backend == "http" and not self.base_url:
            raise ValueError("backend 'http' needs base_url (e.g. https://api.deepseek.com)")
        if self.backend == "file" and not self.traces_file:
            raise ValueError("backend 'file' needs traces_file (from `tracekd teacher --out`)")
        return self


class ProfileConfig(_Frozen):
    """A whole experiment grid: datasets x conditions x seeds (run by ``tracekd run``)."""

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$",
        description="Profile name (smoke, default, paper): a plain identifier, used as a folder.",
    )
    description: str = Field("", description="One line shown in the book.")
    seeds: list[int] = Field([0, 1, 2], min_length=1, description="Training seeds.")
    data_seed: int = Field(0, description="Seed of data generation, splits and corruption.")
    datasets: list[DataConfig] = Field(min_length=1, description="Datasets of the grid.")
    conditions: list[str] = Field(
        ["direct", "vanilla", "label_only", "correct", "incorrect"],
        min_length=1,
        description="Condition registry names.",
    )
    students: list[str] | None = Field(
        None, description="Students of the grid (None = just train.student)."
    )
    trace: TraceConfig = Field(default_factory=TraceConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    interventions: InterventionConfig = Field(default_factory=InterventionConfig)
    study: StudyConfig = Field(default_factory=StudyConfig)
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    runs_root: str = Field("runs", description="Where run folders live.")
    hardware: str = Field("cpu", description="What the profile is sized for (documentation).")

    @model_validator(mode="after")
    def _known_names(self) -> ProfileConfig:
        """Every condition and corruption name resolves now, not after some cells ran."""

        try:
            corruptions = {self.trace.corruption}
            for name in self.conditions:
                cond = CONDITIONS.get(name)
                if cond.corruption:
                    corruptions.add(cond.corruption)
            for name in sorted(corruptions):
                CORRUPTIONS.get(name)
        except UnknownNameError as e:
            raise ValueError(str(e)) from None
        teacher_in_main = [c for c in self.conditions if c.startswith("teacher_")]
        missing = set(self.teacher.datasets) - {d.dataset for d in self.datasets}
        if teacher_in_main or (self.teacher.enabled and missing):
            raise ValueError(
                f"teacher conditions {teacher_in_main} belong in teacher.conditions"
                if teacher_in_main
                else f"teacher.datasets {sorted(missing)} are not among the profile's datasets"
            )
        return self

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be unique, got {v}")
        return v


def profile_students(profile: ProfileConfig) -> list[str]:
    """The students a profile trains (``students`` or else ``[train.student]``)."""
    return list(profile.students or [profile.train.student])


def _format_validation(e: ValidationError, source: str) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "<root>"
        parts.append(f"{source}: field {loc!r} = {err.get('input')!r}: {err['msg']}")
    return "; ".join(parts) + ". Fix the value or remove the key to use the default."


def validate_config(model: type[M], data: dict[str, Any], source: str = "<config>") -> M:
    """Validate a dict against ``model``; raise ``ConfigError`` naming source and field.

    Examples
    --------
    >>> validate_config(TrainConfig, {"lr": 1e-4}).lr
    0.0001
    >>> validate_config(TrainConfig, {"lrr": 1e-4})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracekd_core.errors.ConfigError: <config>: field 'lrr' = 0.0001: Extra inputs are not ...
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(data).__name__}."
        )
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, source)) from None


def load_config(model: type[M], path: str | Path) -> M:
    """Load a YAML file into ``model`` (validated)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: config file not found. Check the path (profiles live in configs/)."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, IsADirectoryError) as e:
        raise ConfigError(f"{path}: not a readable YAML file ({e}). Fix the file.") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping at the top level, got {type(data).__name__}."
        )
    return validate_config(model, data, str(path))


def profile_path(name_or_path: str, configs_dir: str | Path = "configs") -> Path:
    """``smoke`` -> ``configs/smoke.yaml``; a path is returned unchanged."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return Path(configs_dir) / f"{name_or_path}.yaml"


def load_profile(name_or_path: str, configs_dir: str | Path = "configs") -> ProfileConfig:
    """Load and validate an experiment profile by name or path."""
    return load_config(ProfileConfig, profile_path(name_or_path, configs_dir))


def dump(cfg: BaseModel) -> dict[str, Any]:
    """The resolved config as a plain dict (what is written into run folders)."""
    return cfg.model_dump(mode="json")
