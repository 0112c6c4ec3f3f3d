"""From a configuration to a finished run, and back from a run directory to a usable model.

The run configuration has four sections: ``dataset`` (a :class:`~fuserec.data.sources.DatasetConfig`),
``model`` (``name`` plus the model's own ``Config`` fields), ``train``
(:class:`~fuserec.train.config.TrainConfig`) and ``eval`` (:class:`~fuserec.train.config.EvalConfig`).
"""

from __future__ import annotations

import dataclasses
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
from fuserec.errors import ConfigError, DataError
from fuserec.prepare import PreparedInputs, prepare_inputs
from fuserec.saved_model import is_saved_model, load_model, save_model
from fuserec.serving import ServingData
from fuserec.train.checkpoint import load_checkpoint
from fuserec.train.config import EvalConfig, TrainConfig
from fuserec.train.distributed import DistContext, distributed_session
from fuserec.train.run_dir import RunDir
from fuserec.train.seeding import derive_seed, rng_scope
from fuserec.train.tasks import Task, make_task
from fuserec.train.trainer import Trainer, TrainResult, load_model_state

SECTIONS = ("dataset", "model", "train", "eval")

#: the folder of a run directory holding its self-contained saved model
MODEL_DIR = "model"


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


def model_inputs(config: RunConfig, dataset: Dataset) -> PreparedInputs:
    """The prepared inputs the configured model scores with (:func:`fuserec.prepare.prepare_inputs`)."""
    from fuserec.models import get_model

    return prepare_inputs(dataset, get_model(config.model_name), config.model)


def build_model(config: RunConfig, source: Dataset | PreparedInputs) -> nn.Module:
    """The configured model on prepared inputs (prepared here from ``source`` when it is a
    dataset), initialised from ``derive_seed(train.seed, "init")``."""
    from fuserec.models import get_model

    inputs = source if isinstance(source, PreparedInputs) else model_inputs(config, source)
    cls = get_model(config.model_name)
    with rng_scope(derive_seed(config.train.seed, "init")):
        return cls(inputs, config.model)


def build_task(config: RunConfig, dataset: Dataset) -> Task:
    from fuserec.models import get_model

    return make_task(get_model(config.model_name).task, dataset, config.eval)


def dataset_config_of(dataset: Dataset) -> DatasetConfig:
    """The SOURCE a dataset was loaded from (``meta["source"]``, set by :func:`load_dataset`), or
    ``format: memory`` for a dataset built in memory (it cannot be reloaded from the run)."""
    source = dataset.meta.get("source")
    if isinstance(source, dict):
        return from_dict(DatasetConfig, source, prefix="dataset")
    return DatasetConfig(format="memory", name=dataset.name)


@dataclass
class FittedRun:
    """What :func:`fit_run` returns: the config as recorded, the dataset, prepared inputs, the
    trained model (at its best validation epoch), the task and the trainer's result."""

    config: RunConfig
    dataset: Dataset
    inputs: PreparedInputs
    model: nn.Module
    task: Task
    result: TrainResult
    serving: ServingData


def fit_run(config: RunConfig, run_dir: str | Path, *, resume: bool = False, dataset: Dataset | None = None,
            distributed: DistContext | None = None, save: bool = True,
            inputs: PreparedInputs | None = None) -> FittedRun:
    """Load the dataset (unless given), prepare the inputs (unless given), build model and task,
    train into ``run_dir`` and (``save``, rank 0) write the self-contained model to ``run_dir/model``.

    A given ``dataset`` is what the run records as its dataset (:func:`dataset_config_of`).
    Under ``torchrun`` (or any ``env://`` launch with WORLD_SIZE > 1) the process group is joined
    for the run unless ``distributed`` is given (see :mod:`fuserec.train.distributed`); every rank
    must pass the same ``run_dir``.
    """
    if distributed is None:
        with distributed_session(config.train.device) as ctx:
            return fit_run(config, run_dir, resume=resume, dataset=dataset, distributed=ctx, save=save,
                           inputs=inputs)
    if dataset is None:
        dataset = load_dataset(config.dataset)
    else:
        config = dataclasses.replace(config, dataset=dataset_config_of(dataset))
    if inputs is None:
        inputs = model_inputs(config, dataset)
    elif (inputs.n_users, inputs.n_items) != (dataset.n_users, dataset.n_items):
        raise DataError(f"the prepared inputs are for {inputs.n_users} users x {inputs.n_items} items, the "
                        f"dataset has {dataset.n_users} x {dataset.n_items}", dataset.meta.get("path"))
    model = build_model(config, inputs)
    task = build_task(config, dataset)
    trainer = Trainer(model, task, config.train, RunDir(run_dir), run_config=config.to_dict(),
                      distributed=distributed)
    result = trainer.fit(resume=resume)
    serving = ServingData.from_dataset(dataset)
    if save and distributed.is_main:
        save_model(RunDir(run_dir).path / MODEL_DIR, config.to_dict(), model, inputs, serving, result.metrics)
    return FittedRun(config, dataset, inputs, model, task, result, serving)


def train_run(config: RunConfig, run_dir: str | Path, *, resume: bool = False,
              dataset: Dataset | None = None, distributed: DistContext | None = None) -> TrainResult:
    """:func:`fit_run`'s training result (the run directory holds the rest, the model in ``model/``)."""
    return fit_run(config, run_dir, resume=resume, dataset=dataset, distributed=distributed).result


class LoadedRun:
    """A finished (or interrupted) run brought back: its config, model and, when asked for, its
    dataset and task (loaded from the recorded SOURCE only then)."""

    def __init__(self, run_dir: RunDir, config: RunConfig, model: nn.Module, checkpoint: Path,
                 serving: ServingData | None = None, inputs: PreparedInputs | None = None,
                 dataset: Dataset | None = None):
        self.run_dir, self.config, self.model, self.checkpoint = run_dir, config, model, checkpoint
        self.serving, self.inputs = serving, inputs
        self._dataset = dataset
        self._task: Task | None = None

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = load_dataset(self.config.dataset)
            if self.serving is not None and not self.serving.matches(self._dataset):
                raise DataError(f"the dataset {self.config.dataset.name or self.config.dataset.path} no longer "
                                "has the users and items the run was trained on", self.config.dataset.path)
        return self._dataset

    @property
    def task(self) -> Task:
        if self._task is None:
            self._task = build_task(self.config, self.dataset)
        return self._task


def open_run(run_dir: str | Path, checkpoint: str = "best", dataset: Dataset | None = None) -> LoadedRun:
    """Bring back the model of a run with ``best.pt`` (or ``last.pt``) loaded.

    A run holding a saved model (``model/``) is rebuilt from it, without the dataset; older
    runs are rebuilt from the dataset (``dataset``, else the recorded SOURCE).
    """
    rd = RunDir(run_dir)
    if checkpoint not in ("best", "last"):
        raise ConfigError(f"checkpoint must be best or last, got {checkpoint!r}", "checkpoint")
    path = rd.best_checkpoint if checkpoint == "best" else rd.last_checkpoint
    if checkpoint == "best" and not path.is_file():
        path = rd.last_checkpoint
    state = load_checkpoint(path)
    saved = rd.path / MODEL_DIR
    if is_saved_model(saved):
        loaded = load_model(saved)
        config = resolve_config(loaded.config)
        model, serving, inputs = loaded.model, loaded.serving, loaded.inputs
    else:
        config = resolve_config(rd.read_config())
        if dataset is None:
            dataset = load_dataset(config.dataset)
        inputs = model_inputs(config, dataset)
        model = build_model(config, inputs)
        serving = ServingData.from_dataset(dataset)
    load_model_state(model, state)
    model.eval()
    if dataset is not None and not serving.matches(dataset):
        raise DataError(f"{dataset.name} does not have the users and items the run was trained on "
                        f"({dataset.n_users} x {dataset.n_items} vs {serving.n_users} x {serving.n_items})",
                        dataset.meta.get("path"))
    return LoadedRun(rd, config, model, path, serving, inputs, dataset)
