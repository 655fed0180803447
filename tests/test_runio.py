"""Run folders: content-addressed, config written first, atomic writes, DONE markers."""

import json

import pytest
import yaml

from tracekd_core import runio


def test_run_dir_keyed_by_config_data_and_code(tmp_path):
    a = runio.run_dir(tmp_path, "exp", {"lr": 1}, {"data": "abc"}, "v1")
    assert a == runio.run_dir(tmp_path, "exp", {"lr": 1}, {"data": "abc"}, "v1")
    assert a != runio.run_dir(tmp_path, "exp", {"lr": 2}, {"data": "abc"}, "v1")
    assert a != runio.run_dir(tmp_path, "exp", {"lr": 1}, {"data": "abd"}, "v1")
    assert a != runio.run_dir(tmp_path, "exp", {"lr": 1}, {"data": "abc"}, "v2")
    assert yaml.safe_load((a / "config.yaml").read_text()) == {"lr": 1}


def test_done_marker_and_atomic_json(tmp_path):
    assert not runio.is_done(tmp_path)
    runio.mark_done(tmp_path)
    assert runio.is_done(tmp_path)
    runio.atomic_write_json(tmp_path / "m.json", {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": [1, 2], "b": 1}
    assert not list(tmp_path.glob(".*.tmp"))


def test_code_fingerprint_depends_on_modules():
    assert runio.code_fingerprint("records") == runio.code_fingerprint("records")
    assert runio.code_fingerprint("records") != runio.code_fingerprint("config")


def test_manifest_has_provenance(tmp_path):
    man = runio.base_manifest(seed=3, dtype="bfloat16")
    runio.write_manifest(tmp_path, man)
    got = json.loads((tmp_path / "manifest.json").read_text())
    assert got["seed"] == 3 and got["dtype"] == "bfloat16"
    assert {"git_sha", "packages", "python", "device"} <= set(got)
    assert got["packages"]["torch"].startswith("2.13")


def test_lock_refuses_a_second_holder_without_wait(tmp_path):
    import multiprocessing as mp

    from tracekd_core.errors import RunLockedError

    d = tmp_path / "run"
    with runio.locked(d):
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            assert pool.apply(_try_lock, (str(d),)) == "RunLockedError"
    assert _try_lock(str(d)) == "acquired"
    with (
        pytest.raises(RunLockedError, match="locked by another tracekd process"),
        runio.locked(d),
        runio.locked(d, wait=False),
    ):
        pass


def _try_lock(d: str) -> str:
    from tracekd_core.errors import RunLockedError

    try:
        with runio.locked(d, wait=False):
            return "acquired"
    except RunLockedError:
        return "RunLockedError"


def test_atomic_writes_honour_the_umask(tmp_path):
    """Issue 10.9: atomic writes created 0600 files whatever the umask."""
    import os

    old = os.umask(0o022)
    try:
        p = runio.atomic_write_text(tmp_path / "x.txt", "hi\n")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_git_status_takes_no_index_lock(monkeypatch):
    """Issue 10.9: every run called plain ``git status`` and took the checkout's index lock."""
    import subprocess

    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="abc\n", stderr="")

    monkeypatch.setattr(runio.subprocess, "run", fake_run)
    assert runio.git_sha(".").startswith("abc")
    status = [c for c in calls if "status" in c]
    assert status and all("--no-optional-locks" in c for c in status)
