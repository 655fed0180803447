"""Run folders, atomic writes, fingerprints and manifests (STYLE 9).

A run lives in ``runs/<experiment>/<hash(config, data hashes, code version)>/``. Writes are atomic
(write to a temp file, then ``os.replace``), a ``DONE`` marker makes re-runs skip finished work,
and ``manifest.json`` records git SHA, package versions, device, dtype, seed and timings.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PACKAGES = (
    "tracekd",
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "bitsandbytes",
    "datasets",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (readers never see a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def fsync_dir(d: str | Path) -> None:
    """Flush a folder's entries (a rename survives a power cut); a no-op where unsupported."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as pretty JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def stable_hash(obj: Any, n: int = 12) -> str:
    """Short hex digest of a JSON-serialisable object (key order does not matter).

    Examples
    --------
    >>> stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    True
    """
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


def file_sha256(path: str | Path, n: int = 16) -> str:
    """Hex digest of a file's bytes (the data part of a run key)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def package_version() -> str:
    """The installed tracekd version (``0+unknown`` when not installed)."""
    try:
        return importlib.metadata.version("tracekd")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _code_digest(path: Path) -> bytes:
    """The source's syntax tree without docstrings: formatting, comments and docs don't count."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()


def code_fingerprint(*modules: str) -> str:
    """Hash of the package version and the code of the named ``tracekd_core`` modules.

    Each stage keys its runs on the modules that can change its output, so editing a plot does
    not invalidate a trained adapter, but editing the renderer does. The code is hashed as a
    syntax tree without docstrings, so reformatting or re-documenting a module keeps finished
    runs valid.

    Examples
    --------
    >>> code_fingerprint("records") == code_fingerprint("records")
    True
    """
    h = hashlib.sha256(package_version().encode())
    for name in sorted(modules):
        mod = importlib.import_module(
            name if name.startswith("tracekd_core") else f"tracekd_core.{name}"
        )
        src = Path(mod.__file__)
        files = sorted(src.parent.rglob("*.py")) if src.name == "__init__.py" else [src]
        for f in files:
            h.update(_code_digest(f))
    return h.hexdigest()[:12]


def git_sha(cwd: str | Path | None = None) -> str:
    """Git commit of the tracekd checkout (``-dirty`` when tracked files changed), or ``unknown``.

    ``cwd`` defaults to the package folder, so notebooks run from anywhere stamp the code's SHA.
    """
    cwd = cwd if cwd is not None else Path(__file__).parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that can change results."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_key(config: dict[str, Any], data_hashes: dict[str, str] | None, code_version: str) -> str:
    """Folder name of a run: hash of (resolved config, data file hashes, code version)."""
    return stable_hash({"config": config, "data": data_hashes or {}, "code": code_version})


def run_dir(
    root: str | Path,
    experiment: str,
    config: dict[str, Any],
    data_hashes: dict[str, str] | None,
    code_version: str,
) -> Path:
    """``root/experiment/<run_key>``; created, with ``config.yaml`` written first."""
    import yaml

    d = Path(root) / experiment / run_key(config, data_hashes, code_version)
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "config.yaml").exists():
        atomic_write_text(d / "config.yaml", yaml.safe_dump(config, sort_keys=True))
    return d


def is_done(d: str | Path) -> bool:
    """True when the run folder holds a ``DONE`` marker."""
    return (Path(d) / "DONE").exists()


def mark_done(d: str | Path) -> None:
    """Write the ``DONE`` marker (last action of a successful run)."""
    atomic_write_text(Path(d) / "DONE", time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n")


def base_manifest(
    *,
    seed: int | None = None,
    device: str = "cpu",
    dtype: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest fields every run records (caller adds timings and stage specifics)."""
    man: dict[str, Any] = {
        "git_sha": git_sha(Path(__file__).parent),
        "tracekd_version": package_version(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device,
        "cpu": _cpu_description(),
        "dtype": dtype,
        "seed": seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    man.update(extra or {})
    return man


def _cpu_description() -> dict[str, Any]:
    from .cpu import describe

    return describe()


def write_manifest(d: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` into the run folder (atomic)."""
    return atomic_write_json(Path(d) / "manifest.json", manifest)


def lock_path(target: str | Path) -> Path:
    """The lock file of a run folder or output file: ``.<name>.lock`` beside it.

    Beside, not inside, so the lock is the same whether or not the folder exists yet.

    Examples
    --------
    >>> lock_path("runs/generate/cell-1").as_posix()
    'runs/generate/.cell-1.lock'
    """
    target = Path(target)
    return target.parent / f".{target.name}.lock"


@contextmanager
def locked(target: str | Path, *, wait: bool = True, what: str = "run folder") -> Iterator[Path]:
    """Hold the inter-process lock of ``target`` (a run folder or an output file).

    Two tracekd processes on one root never write the same folder at once: with ``wait`` the
    second blocks until the first is done (and then finds its ``DONE`` marker); without, it
    raises at once.

    Raises
    ------
    RunLockedError
        ``wait=False`` and another process holds the lock.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, locked(Path(d) / "run") as lock:
    ...     lock.name
    '.run.lock'
    """
    from filelock import FileLock, Timeout

    from .errors import RunLockedError

    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise RunLockedError(
                f"{what} {target} is locked by another tracekd process (lock file {path}). "
                "Wait for that run to finish, or use another --root; delete the lock file only "
                "if no tracekd process is running."
            ) from None
        log.info("waiting for the lock of %s %s (another process is writing it)", what, target)
        lock.acquire()
    try:
        yield path
    finally:
        lock.release()


def hold_lock(target: str | Path) -> Any:
    """Acquire ``target``'s lock (waiting) and return it; released when the object is dropped.

    For functions whose body cannot be wrapped in ``with locked(...)``: the caller keeps the
    returned object in a local variable for as long as it writes the folder.
    """
    from filelock import FileLock

    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    lock.acquire()
    return lock
