"""Registries: lookup by name, helpful unknown-name errors, no silent overwrite."""

import pytest

from tracekd_core.errors import UnknownNameError
from tracekd_core.registry import CONDITIONS, Registry


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
    assert "correct" in CONDITIONS.names()
