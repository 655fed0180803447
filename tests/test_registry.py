"""Registries: lookup by name, helpful unknown-name errors, no silent overwrite."""

import json
import subprocess
import sys

import pytest

from tracekd_core.errors import UnknownNameError
from tracekd_core.registry import Registry


def test_unknown_name_lists_known_names():
    reg = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(UnknownNameError, match="unknown thing 'b'; known: a"):
        reg.get("b")


def test_duplicate_registration_refused():
    reg = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 2)


def test_providers_are_imported_lazily():
    """Importing the registry imports no provider; the first lookup imports exactly its own."""
    script = (
        "import json, sys\n"
        "from tracekd_core.registry import CONDITIONS\n"
        "mods = lambda: {m for m in sys.modules if m.startswith('tracekd_core.')}\n"
        "before = mods()\n"
        "names = CONDITIONS.names()\n"
        "print(json.dumps([sorted(before), sorted(mods() - before), names]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    before, loaded, names = json.loads(out.stdout)
    assert before == ["tracekd_core.errors", "tracekd_core.registry"]
    assert loaded == ["tracekd_core.experiment", "tracekd_core.experiment.conditions"]
    assert "correct" in names


def test_provider_is_imported_on_first_lookup(monkeypatch):
    imported = []
    monkeypatch.setattr("importlib.import_module", imported.append)
    reg = Registry("thing", ("some.provider",))
    reg.add("a", 1)
    assert imported == []  # registering does not load the providers
    assert reg.get("a") == 1 and imported == ["some.provider"]
    reg.names()
    assert imported == ["some.provider"]  # only once
