"""The README's tables must match the code they describe."""

from __future__ import annotations

import re

import yaml

from stancewire.cli import COMMANDS
from stancewire.serve.settings import Settings
from stancewire.training.config import TrainConfig

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_docs_settings_table_matches_settings() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `STANCEWIRE_(\w+)` \| `([^`]*)` \|", README, re.M)
    assert {name for name, _, _ in rows} == set(Settings.model_fields)
    for name, env, default in rows:
        assert env == name.upper()
        assert default == str(Settings.model_fields[name].default)


def test_docs_every_command_is_documented() -> None:
    for command in COMMANDS:
        assert f"stancewire {command}" in README


def test_docs_every_config_yaml_loads_and_matches_the_readme_defaults() -> None:
    for path in (REPO / "configs").glob("*.yaml"):
        TrainConfig.from_yaml(path)
    default = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    for key in ("epochs", "batch_size", "max_length", "seed"):
        assert re.search(rf"^\| `{key}` \| {default[key]} \|", README, re.M), key
    assert re.search(rf"^\| `lr` \| {default['lr']:g} \|", README, re.M)
