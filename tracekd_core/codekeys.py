"""Which source files can change a stage's output: import closures computed from the code.

A run folder is keyed on the code that produced it (``runio.code_fingerprint``), so editing a
scorer invalidates finished scores but editing a plot does not invalidate a trained adapter. The
files a key covers are *derived*, never listed by hand: a stage names its roots (a subpackage,
whose every file counts, or an entry module) and :func:`import_closure` follows every import
statement inside ``tracekd_core`` from there, including imports inside functions and the
``__init__`` of every package on the way (importing ``a.b`` runs ``a/__init__.py``). A hand-kept
list once left ``score_strict.py`` out of the scoring key, so editing a scoring rule silently
reused old scores (issue 11).

Example
-------
>>> files = {module_name(f) for f in import_closure(*STAGE_ROOTS["score"])}
>>> "tracekd_core.evaluation.strict" in files, "tracekd_core.students.train" in files
(True, False)
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "tracekd_core"
PACKAGE_DIR = Path(__file__).resolve().parent

#: The roots of each content-addressed stage (``runs/<profile>/<stage>/`` and
#: ``data/derived/``). A root that is a package counts with every file in it; the rest of each
#: key is the import closure. ``train`` and ``generate`` share ``students/`` but are keyed on
#: their entry modules, so editing the decoder does not invalidate trained adapters.
STAGE_ROOTS: dict[str, tuple[str, ...]] = {
    "data": ("datasets",),
    "traces": ("traces",),
    "train": ("students.train",),
    "generate": ("students.generate",),
    "score": ("evaluation",),
    "interventions": ("experiment.intervene",),
    "teacher": ("experiment.teacher_stage",),
    "notebooks": ("report", "study"),
}


def read_source(path: Path) -> str:
    """The text of one package file (the single reader, so tests can substitute an edit)."""
    return path.read_text(encoding="utf-8")


def module_file(name: str) -> Path | None:
    """The file of module ``name`` (``"evaluation.score"`` or ``"tracekd_core.evaluation"``).

    Returns ``None`` when ``name`` is not a module of the package (for example an attribute
    imported with ``from .x import name``).

    >>> module_file("records").name
    'records.py'
    >>> module_file("evaluation").name
    '__init__.py'
    >>> module_file("records.Problem") is None
    True
    """
    parts = name.split(".")
    if parts[0] == PACKAGE:
        parts = parts[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if parts and base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def module_name(path: Path) -> str:
    """Dotted name of a package file (``tracekd_core.evaluation.score``)."""
    rel = path.resolve().relative_to(PACKAGE_DIR).with_suffix("")
    parts = [PACKAGE, *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=4096)
def _imports_in(text: str, name: str, is_package: bool) -> tuple[str, ...]:
    """Absolute names of every ``tracekd_core`` module that ``text`` (module ``name``) imports."""
    package = name if is_package else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            found.append(target)
            # ``from . import stats`` imports the submodule ``stats``
            found += [f"{target}.{a.name}" for a in node.names if module_file(f"{target}.{a.name}")]
    return tuple(found)


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` -> ``[a, a.b, a.b.c]``: importing a module runs every parent ``__init__``."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_closure(*roots: str) -> list[Path]:
    """Every package file that ``roots`` consist of or import, directly or not (sorted).

    Parameters
    ----------
    *roots : str
        Module or subpackage names relative to ``tracekd_core`` (``"evaluation"``,
        ``"students.train"``); a subpackage contributes every ``.py`` file under it.

    Returns
    -------
    list of Path

    Raises
    ------
    ValueError
        If a root names no module of the package.
    """
    todo: list[Path] = []
    for root in roots:
        f = module_file(root)
        if f is None:
            raise ValueError(
                f"code root {root!r} is not a module of {PACKAGE}; name a module or subpackage "
                f"such as 'evaluation' or 'students.train' (see codekeys.STAGE_ROOTS)"
            )
        todo += sorted(f.parent.rglob("*.py")) if f.name == "__init__.py" else [f]
        todo += [module_file(p) for p in _with_parents(module_name(f))]
    seen: set[Path] = set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for imported in _imports_in(read_source(f), module_name(f), f.name == "__init__.py"):
            for name in _with_parents(imported):
                g = module_file(name)
                if g is not None and g not in seen:
                    todo.append(g)
    return sorted(seen)


@lru_cache(maxsize=4096)
def code_digest(text: str) -> bytes:
    """The syntax tree of ``text`` without docstrings: formatting, comments and docs don't count.

    >>> code_digest("x = 1  # one") == code_digest("'Doc.'\\nx = (1)")
    True
    """
    tree = ast.parse(text)
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
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).digest()


def closure_digest(*roots: str) -> str:
    """Hex digest of the names and code of ``import_closure(*roots)``."""
    h = hashlib.sha256()
    for f in import_closure(*roots):
        h.update(module_name(f).encode())
        h.update(code_digest(read_source(f)))
    return h.hexdigest()
