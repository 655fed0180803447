"""Typed configs: every profile in configs/ validates; bad values name file and field."""

from pathlib import Path

import pytest

from tracekd_core.config import ProfileConfig, load_profile, profile_students
from tracekd_core.errors import ConfigError
from tracekd_core.experiment.conditions import get_condition
from tracekd_core.registry import CONDITIONS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["smoke", "default", "paper"])
def test_shipped_profiles_validate(name):
    prof = load_profile(name, CONFIGS)
    assert prof.name == name
    assert all(c in CONDITIONS for c in prof.conditions)
    assert profile_students(prof)


def test_paper_profile_uses_reference_hyperparameters():
    t = load_profile("paper", CONFIGS).train
    assert (t.quant, t.lora_r, t.lora_alpha, t.lr, t.epochs) == ("nf4", 16, 32, 2e-4, 3)
    assert t.batch_size * t.grad_accum == 16


def test_unknown_key_and_bad_type_name_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets: [{dataset: cotemp}]\ntrain: {lr: -1}\n")
    with pytest.raises(ConfigError) as e:
        load_profile(str(bad))
    assert str(bad) in str(e.value) and "train.lr" in str(e.value)
    bad.write_text("name: x\ndatasets: [{dataset: cotempp}]\n")
    with pytest.raises(ConfigError, match="datasets.0.dataset"):
        load_profile(str(bad))
    bad.write_text("name: x\ndatasets: [{dataset: cotemp}]\nseedz: [1]\n")
    with pytest.raises(ConfigError, match="seedz"):
        load_profile(str(bad))


def test_missing_profile_is_a_config_error():
    with pytest.raises(ConfigError, match="not found"):
        load_profile("does-not-exist", CONFIGS)


def test_duplicate_seeds_rejected():
    with pytest.raises(ValueError, match="unique"):
        ProfileConfig(name="x", datasets=[{"dataset": "babi"}], seeds=[1, 1])


def test_conditions_registry():
    assert get_condition("direct").trains is False
    assert get_condition("swapped").corruption == "swap"


def test_unparseable_yaml_is_a_config_error(tmp_path):
    """Issue 10.7: a training YAML that does not parse used to raise a yaml traceback."""
    from tracekd_core.errors import ConfigError
    from tracekd_core.students.train import load_train_config

    bad = tmp_path / "train.yaml"
    bad.write_text("train: {lr: [1e-3\n")
    with pytest.raises(ConfigError, match="not a readable YAML file"):
        load_train_config(bad)


def test_profile_name_must_be_a_plain_identifier():
    """Issue 10.8: a profile named ``../../escaped`` wrote outside the project root."""
    from tracekd_core.config import dump, validate_config

    data = dump(load_profile("smoke")) | {"name": "../../escaped"}
    with pytest.raises(ConfigError, match="name"):
        validate_config(ProfileConfig, data, "escaped.yaml")


def test_unknown_corruption_is_refused_when_the_profile_loads():
    """Issue 10.8: an unknown corruption used to surface only after 4 of 15 cells ran."""
    from tracekd_core.config import dump, validate_config

    data = dump(load_profile("smoke"))
    data["trace"] = dict(data["trace"], corruption="no-such-corruption")
    with pytest.raises(ConfigError, match="no-such-corruption"):
        validate_config(ProfileConfig, data, "bad.yaml")
