"""Typed configuration: YAML round trip, validation messages, overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from fuserec.config import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from fuserec.data.sources import DatasetConfig, parse_source
from fuserec.data.splits import SplitConfig
from fuserec.errors import ConfigError


@dataclass
class Inner:
    lr: float = 1e-3
    optimizer: Literal["adam", "sgd"] = "adam"


@dataclass
class Outer:
    name: str = "x"
    epochs: int = 10
    ks: tuple[int, ...] = (5, 10)
    inner: Inner = field(default_factory=Inner)
    maybe: int | None = None


def test_from_dict_builds_nested_and_coerces():
    cfg = from_dict(Outer, {"epochs": 3, "ks": [1, 2, 3], "inner": {"lr": 1}, "maybe": 4})
    assert cfg.epochs == 3 and cfg.ks == (1, 2, 3) and cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float)
    assert cfg.maybe == 4


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError) as err:
        from_dict(Outer, {"epoch": 3})
    assert "epoch" in str(err.value) and "did you mean 'epochs'" in str(err.value)


def test_literal_lists_allowed_values_and_key_path():
    with pytest.raises(ConfigError) as err:
        from_dict(Outer, {"inner": {"optimizer": "adamw"}})
    msg = str(err.value)
    assert "inner.optimizer" in msg and "'adam'" in msg and "'sgd'" in msg


@pytest.mark.parametrize("data", [{"epochs": "ten"}, {"epochs": 1.5}, {"epochs": True}, {"ks": 5},
                                  {"inner": 3}, {"name": 7}])
def test_wrong_types_are_rejected(data):
    with pytest.raises(ConfigError):
        from_dict(Outer, data)


def test_yaml_round_trip(tmp_path):
    cfg = from_dict(Outer, {"epochs": 7, "inner": {"optimizer": "sgd"}})
    save_yaml(cfg, tmp_path / "c.yaml")
    again = from_dict(Outer, load_yaml(tmp_path / "c.yaml"))
    assert again == cfg
    assert to_dict(again)["ks"] == [5, 10]


def test_bad_yaml_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_yaml(path)
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_yaml(path)


def test_overrides_parse_yaml_values_and_nest():
    out = apply_overrides({"train": {"lr": 0.1}}, ["train.lr=0.01", "model.dims=[1, 2]", "flag=true"])
    assert out == {"train": {"lr": 0.01}, "model": {"dims": [1, 2]}, "flag": True}
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["novalue"])


def test_split_config_validation():
    with pytest.raises(ConfigError, match="sum to 1"):
        from_dict(SplitConfig, {"ratios": [0.5, 0.2, 0.2]})
    with pytest.raises(ConfigError, match="split.method"):
        from_dict(SplitConfig, {"method": "random"}, prefix="split")


def test_parse_source_forms(tmp_path):
    assert parse_source("synthetic").format == "synthetic"
    assert parse_source("synthetic:7").options == {"seed": 7}
    cfg = parse_source("irllrec:/some/where")
    assert (cfg.format, cfg.path) == ("irllrec", "/some/where")
    yaml_path = tmp_path / "ds.yaml"
    yaml_path.write_text("format: movielens\npath: ml\nsplit: {method: temporal}\n")
    cfg = parse_source(str(yaml_path))
    assert isinstance(cfg, DatasetConfig) and cfg.split.method == "temporal"
    assert cfg.path == str(tmp_path / "ml")
    with pytest.raises(ConfigError, match="FORMAT:PATH"):
        parse_source("nonsense-format:/x")
    with pytest.raises(ConfigError, match="integer seed"):
        parse_source("synthetic:abc")
