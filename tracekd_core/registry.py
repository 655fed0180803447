"""Name -> object registries for every variation point (STYLE 4, lm-eval style).

Datasets, trace templates, corruptions, SFT kinds, students, parsers and scorers are looked up by
string, so a new condition is a registry entry plus a YAML line. A registry knows which module
fills it (``provider``) and imports that module on first lookup, so importing
``tracekd_core.registry`` stays cheap (no torch).

Example
-------
>>> reg = Registry("colour")
>>> @reg.register("red")
... def red():
...     return "#f00"
>>> reg.get("red")()
'#f00'
>>> reg.names(), reg.in_order()
(['red'], ['red'])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of interchangeable implementations.

    Parameters
    ----------
    kind : str
        What the entries are ("corruption", "dataset"...), used in error messages.
    providers : tuple of str
        Modules imported before the first lookup; they register the built-in entries.
    """

    def __init__(self, kind: str, providers: tuple[str, ...] = ()):
        self.kind = kind
        self.providers = providers
        self._entries: dict[str, T] = {}
        self._loaded = not providers

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name`` (duplicates are an error)."""

        def deco(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` without decorator syntax."""
        return self.register(name)(obj)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for mod in self.providers:
                importlib.import_module(mod)

    def get(self, name: str) -> T:
        """Return the entry called ``name``.

        Raises
        ------
        UnknownNameError
            If ``name`` is not registered; the message lists the known names.
        """
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._entries))}. "
                f"Register a new one with @{self.kind.upper()}S.register(name) or fix the spelling."
            ) from None

    def names(self) -> list[str]:
        """Sorted names of every registered entry."""
        self._load()
        return sorted(self._entries)

    def in_order(self) -> list[str]:
        """Names in registration order (the paper's order for the built-in datasets)."""
        self._load()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries


# The project's registries. Providers are the modules that fill them.
DATASETS: Registry = Registry("dataset", ("tracekd_core.datasets",))
TRACE_TEMPLATES: Registry = Registry("trace_template", ("tracekd_core.traces.decompose",))
CORRUPTIONS: Registry = Registry("corruption", ("tracekd_core.traces.corrupt",))
SFT_KINDS: Registry = Registry(
    "sft_kind", ("tracekd_core.traces.decompose", "tracekd_core.traces.teacher_kinds")
)
STUDENTS: Registry = Registry("student", ("tracekd_core.students.catalog",))
PARSERS: Registry = Registry("parser", ("tracekd_core.evaluation.parse",))
ANSWER_SCORERS: Registry = Registry("answer_scorer", ("tracekd_core.evaluation.score",))
TRACE_SCORERS: Registry = Registry("trace_scorer", ("tracekd_core.evaluation.score",))
CONDITIONS: Registry = Registry("condition", ("tracekd_core.experiment.conditions",))
