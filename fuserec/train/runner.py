"""From a configuration to a finished run, and back from a run directory to a usable model.

The run configuration has four sections: ``dataset`` (a :class:`~fuserec.data.sources.DatasetConfig`),
``model`` (``name`` plus the model's own ``Config`` fields), ``train``
(:class:`~fuserec.train.config.TrainConfig`) and ``eval`` (:class:`~fuserec.train.config.EvalConfig`).
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fuserec.config import apply_overrides, from_dict, merge, to_dict
from fuserec.data.dataset import Dataset
from fuserec.data.sources import DatasetConfig, load_dataset, parse_source
from fuserec.errors import ConfigError
from fuserec.train.checkpoint import load_checkpoint
from fuserec.train.config import EvalConfig, TrainConfig
from fuserec.train.distributed import DistContext, distributed_session
from fuserec.train.run_dir import RunDir
from fuserec.train.seeding import derive_seed, rng_scope
from fuserec.train.tasks import Task, make_task
from fuserec.train.trainer import Trainer, TrainResult, load_model_state

SECTIONS = ("dataset", "model", "train", "eval")


@dataclass
class RunConfig:
    """The resolved configuration of one run."""

    dataset: DatasetConfig
    model_name: str
    model: Any
    train: TrainConfig
    eval: EvalConfig

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": to_dict(self.dataset),
            "model": {"name": self.model_name, **to_dict(self.model)},
            "train": to_dict(self.train),
            "eval": to_dict(self.eval),
        }


def resolve_config(raw: dict | None = None, *, model: str | None = None, source: str | None = None,
                   overrides: list[str] | tuple[str, ...] = (), seed: int | None = None,
                   base_dir: str | Path | None = None) -> RunConfig:
    """Build a :class:`RunConfig` from a YAML mapping, a model name, a dataset SOURCE and overrides.

    ``source`` gives the dataset's format and path; the YAML ``dataset:`` section adds the rest
    (options, filters, split). ``overrides`` are ``section.key=value`` strings applied last, then
    ``seed`` (``train.seed``). Relative dataset paths in ``raw`` are read from ``base_dir``.
    """
    raw = dict(raw or {})
    _check_sections(raw, "config")
    ds_raw = raw.get("dataset") or {}
    if isinstance(ds_raw, str):
        ds_raw = to_dict(parse_source(ds_raw))
    elif not isinstance(ds_raw, dict):
        raise ConfigError("must be a SOURCE string or a mapping", "dataset")
    elif ds_raw.get("path") and base_dir is not None and not Path(ds_raw["path"]).is_absolute():
        ds_raw = dict(ds_raw, path=str(Path(base_dir) / ds_raw["path"]))
    if source is not None:
        ds_raw = merge(to_dict(parse_source(source)),
                       {k: v for k, v in ds_raw.items() if k not in ("format", "path")})
    model_raw = raw.get("model") or {}
    if not isinstance(model_raw, dict):
        raise ConfigError("must be a mapping of the model's options", "model")
    model_raw = dict(model_raw)
    if model is not None:
        model_raw["name"] = model
    full = {"dataset": ds_raw, "model": model_raw, "train": raw.get("train") or {}, "eval": raw.get("eval") or {}}
    full = apply_overrides(full, overrides)
    _check_sections(full, "--set")
    if seed is not None:
        full["train"]["seed"] = seed
    if not full["dataset"]:
        raise ConfigError("no dataset given: use --dataset SOURCE or a dataset: section in the config file")
    dataset_cfg = from_dict(DatasetConfig, full["dataset"], prefix="dataset")
    if dataset_cfg.path and dataset_cfg.format != "synthetic":
        dataset_cfg.path = str(Path(dataset_cfg.path).expanduser().resolve())
    model_section = dict(full["model"])
    name = model_section.pop("name", None)
    if not name:
        raise ConfigError("no model given: use --model NAME (see `fuserec models`)", "model.name")
    from fuserec.models import get_model

    cls = get_model(str(name))
    model_cfg = from_dict(cls.Config, model_section, prefix="model")
    train_cfg = from_dict(TrainConfig, full["train"], prefix="train")
    eval_cfg = from_dict(EvalConfig, full["eval"], prefix="eval")
    monitor = train_cfg.monitor
    if cls.task == "ranking" and monitor is None and 20 not in eval_cfg.ks:
        raise ConfigError(f"the default monitor recall@20 needs 20 in eval.ks {eval_cfg.ks}; "
                          "add it or set train.monitor", "train.monitor")
    if cls.task == "ranking" and monitor and "@" in monitor:
        k_text = monitor.rsplit("@", 1)[1]
        if not k_text.isdigit() or int(k_text) not in eval_cfg.ks:
            raise ConfigError(f"monitor {monitor!r} needs its cut-off in eval.ks {eval_cfg.ks}", "train.monitor")
    return RunConfig(dataset=dataset_cfg, model_name=str(name), model=model_cfg, train=train_cfg, eval=eval_cfg)


def _check_sections(raw: dict, where: str) -> None:
    for key in raw:
        if key not in SECTIONS:
            close = difflib.get_close_matches(str(key), SECTIONS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown section{hint} in {where}; sections: {', '.join(SECTIONS)}", str(key))


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    """``runs/<model>-<dataset>-<YYYYmmdd-HHMMSS>``."""
    ds = config.dataset
    ds_name = ds.name or (Path(ds.path).name if ds.path else ds.format)
    return Path(root) / f"{config.model_name}-{ds_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def build_model(config: RunConfig, dataset: Dataset) -> nn.Module:
    """The configured model for ``dataset``, initialised from ``derive_seed(train.seed, "init")``."""
    from fuserec.models import get_model

    cls = get_model(config.model_name)
    with rng_scope(derive_seed(config.train.seed, "init")):
        return cls(dataset, config.model)


def build_task(config: RunConfig, dataset: Dataset) -> Task:
    from fuserec.models import get_model

    return make_task(get_model(config.model_name).task, dataset, config.eval)


def train_run(config: RunConfig, run_dir: str | Path, *, resume: bool = False,
              dataset: Dataset | None = None, distributed: DistContext | None = None) -> TrainResult:
    """Load the dataset (unless given), build model and task, and train into ``run_dir``.

    Under ``torchrun`` (or any ``env://`` launch with WORLD_SIZE > 1) the process group is joined
    for the run unless ``distributed`` is given (see :mod:`fuserec.train.distributed`); every rank
    must pass the same ``run_dir``.
    """
    if distributed is None:
        with distributed_session(config.train.device) as ctx:
            return train_run(config, run_dir, resume=resume, dataset=dataset, distributed=ctx)
    if dataset is None:
        dataset = load_dataset(config.dataset)
    model = build_model(config, dataset)
    task = build_task(config, dataset)
    trainer = Trainer(model, task, config.train, RunDir(run_dir), run_config=config.to_dict(),
                      distributed=distributed)
    return trainer.fit(resume=resume)


@dataclass
class LoadedRun:
    """A finished (or interrupted) run brought back: its config, dataset, model and task."""

    run_dir: RunDir
    config: RunConfig
    dataset: Dataset
    model: nn.Module
    task: Task
    checkpoint: Path


def open_run(run_dir: str | Path, checkpoint: str = "best", dataset: Dataset | None = None) -> LoadedRun:
    """Rebuild dataset and model of a run and load ``best.pt`` (or ``last.pt``) into the model."""
    rd = RunDir(run_dir)
    config = resolve_config(rd.read_config())
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint must be best or last, got {checkpoint!r}", "checkpoint")
    path = rd.best_checkpoint if checkpoint == "best" else rd.last_checkpoint
    if checkpoint == "best" and not path.is_file():
        path = rd.last_checkpoint
    state = load_checkpoint(path)
    if dataset is None:
        dataset = load_dataset(config.dataset)
    model = build_model(config, dataset)
    load_model_state(model, state)
    model.eval()
    return LoadedRun(rd, config, dataset, model, build_task(config, dataset), path)


def popularity(dataset: Dataset) -> torch.Tensor:
    """(n_items,) training interaction counts (the cold-user fallback)."""
    import numpy as np

    return torch.from_numpy(np.asarray(dataset.csr("train").sum(axis=0), dtype=np.float32).ravel())
