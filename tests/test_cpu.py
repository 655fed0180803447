"""CPU capability, dtype probe and process tuning (cpu.py)."""

from __future__ import annotations

import json

from tracekd_core import cpu


def test_no_native_bf16_resolves_to_float32_without_probing(monkeypatch):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: {"avx2", "fma"})
    monkeypatch.setattr(cpu, "_matmul_gflops", lambda *a, **k: 1 / 0)  # must not be called
    cpu.probe_dtype.cache_clear()
    try:
        res = cpu.probe_dtype()
    finally:
        cpu.probe_dtype.cache_clear()
    assert res["dtype"] == "float32" and res["bf16_capability"] == "none"


def test_native_flag_is_confirmed_by_the_probe_and_cached(monkeypatch, tmp_path):
    monkeypatch.setattr(cpu, "CACHE", tmp_path)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    speeds = {"float32": 100.0, "bfloat16": 110.0}  # flag present but bf16 not 20% faster
    monkeypatch.setattr(cpu, "_matmul_gflops", lambda dt, **k: speeds[dt])
    cpu.probe_dtype.cache_clear()
    try:
        res = cpu.probe_dtype()
        assert res["dtype"] == "float32"
        (cached,) = tmp_path.glob("cpu-*.json")
        assert json.loads(cached.read_text())["probe_gflops"] == speeds
        speeds["bfloat16"] = 1000.0  # a second process reads the cache, not a new probe
        cpu.probe_dtype.cache_clear()
        assert cpu.probe_dtype()["dtype"] == "float32"
        cached.unlink()
        cpu.probe_dtype.cache_clear()
        assert cpu.probe_dtype()["dtype"] == "bfloat16"
    finally:
        cpu.probe_dtype.cache_clear()


def test_tune_process_sets_threads_and_describe_reports_them():
    import torch

    before = torch.get_num_threads()
    try:
        res = cpu.tune_process(1)
        assert res["torch_threads"] == 1 == torch.get_num_threads()
        assert cpu.describe()["torch_threads"] == 1
        assert cpu.describe()["bf16_capability"] in ("none", "avx512_bf16", "amx")
    finally:
        torch.set_num_threads(before)
