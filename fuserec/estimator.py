"""The estimator face: fit, score, recommend, evaluate, save and load a model in a few calls.

    import fuserec
    ds = fuserec.load_dataset("atomic:../shared/data/movielens/ml-100k")
    rec = fuserec.Recommender("lightgcn", dim=64).fit(ds, epochs=30)   # a run folder is optional
    rec.recommend(["196", "1"], k=10)   # batch, raw ids, seen items excluded, deterministic
    rec.evaluate("test"); rec.save("models/lgcn")
    rec2 = fuserec.Recommender.load("models/lgcn")

Everything goes through the same functions as the command line (``fuserec train`` /
``evaluate`` / ``recommend`` / ``export``): :func:`fuserec.train.runner.fit_run` trains,
:mod:`fuserec.saved_model` saves and loads, :func:`fuserec.serving.top_k` recommends. Scoring
always runs in eval mode (no dropout, no gradients) and restores the model's previous mode.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import torch
from torch import nn

from fuserec.errors import ConfigError, DataError
from fuserec.prepare.inputs import PreparedInputs
from fuserec.runtime import evaluating, model_device
from fuserec.saved_model import MODEL_FILE, load_model, save_model
from fuserec.serving import Recommendation, ServingData, score_users, top_k

if TYPE_CHECKING:  # the training stack (pandas, the trainer) is imported when fitting, not to load and recommend
    from fuserec.data.dataset import Dataset
    from fuserec.train.runner import RunConfig


class Recommender:
    """A registered model with the estimator methods.

    Args:
        model: a registered model name (``fuserec models`` lists them).
        train: ``train:`` options (``lr``, ``batch_size``, ``patience``, ``device``...).
        eval: ``eval:`` options (``ks``...).
        seed: the run's seed (``train.seed``).
        **options: the model's own options (``dim=64``, ``layers=2``, ``profile_source=...``).
    """

    def __init__(self, model: str, *, train: dict[str, Any] | None = None, eval: dict[str, Any] | None = None,
                 seed: int | None = None, **options: Any):
        self.model_name = model
        self.options = dict(options)
        self.train_options = dict(train or {})
        self.eval_options = dict(eval or {})
        self.seed = seed
        self._config_dict: dict[str, Any] | None = None
        self._run_config: RunConfig | None = None
        self.model: nn.Module | None = None
        self.inputs: PreparedInputs | None = None
        self.serving: ServingData | None = None
        self.dataset: Dataset | None = None
        self.metrics: dict[str, Any] = {}
        self.run_dir: Path | None = None
        if model:  # validate the name and options now, not after loading the data
            from fuserec.train.runner import resolve_config

            resolve_config({"dataset": {"format": "memory"}, "model": {"name": model, **self.options},
                            "train": self.train_options, "eval": self.eval_options}, seed=seed)

    # ------------------------------------------------------------------ fitting
    @property
    def config(self) -> "RunConfig | None":
        """The resolved run configuration of the fitted or loaded model (None before)."""
        if self._run_config is None and self._config_dict is not None:
            from fuserec.train.runner import resolve_config

            self._run_config = resolve_config(self._config_dict)
        return self._run_config

    def _config(self, dataset: "Dataset", **train_options: Any) -> "RunConfig":
        from fuserec.config import merge, to_dict
        from fuserec.train.runner import dataset_config_of, resolve_config

        train = merge(self.train_options, {k: v for k, v in train_options.items() if v is not None})
        return resolve_config({"dataset": to_dict(dataset_config_of(dataset)),
                               "model": {"name": self.model_name, **self.options},
                               "train": train, "eval": self.eval_options}, seed=self.seed)

    def prepare(self, dataset: "Dataset", **given: Any) -> PreparedInputs:
        """The inputs this model scores with, prepared from ``dataset`` (:func:`fuserec.prepare.prepare_inputs`;
        ``given``: precomputed ``text={"profile": TextEmbeddings}`` or ``semantic={"item_text": (n, D)}``).
        Pass them to :meth:`fit` (``inputs=``) to train on other text without another model."""
        from fuserec.models import get_model
        from fuserec.prepare import prepare_inputs

        config = self._config(dataset)
        return prepare_inputs(dataset, get_model(config.model_name), config.model, **given)

    def fit(self, dataset: "Dataset | str", *, epochs: int | None = None, out: str | os.PathLike | None = None,
            resume: bool = False, progress: bool = False, inputs: PreparedInputs | None = None,
            **train_options: Any) -> "Recommender":
        """Train on ``dataset`` (a :class:`Dataset` or a SOURCE string); returns ``self``.

        ``out``: keep the run directory there (config, curves, checkpoints, metrics, the saved
        model in ``out/model``); without it the run lives in a temporary folder, removed after.
        ``epochs`` and ``train_options`` override the ``train:`` options for this fit; ``inputs``:
        prepared inputs to use (:meth:`prepare`) instead of preparing them from the config.
        """
        if isinstance(dataset, (str, os.PathLike)):
            from fuserec.data.sources import load_dataset

            dataset = load_dataset(str(dataset))
        from fuserec.train.runner import fit_run

        config = self._config(dataset, epochs=epochs, progress=progress, **train_options)
        if out is None:
            with tempfile.TemporaryDirectory(prefix="fuserec-run-") as tmp:
                fitted = fit_run(config, tmp, dataset=dataset, save=False, inputs=inputs)
        else:
            fitted = fit_run(config, out, dataset=dataset, resume=resume, inputs=inputs)
            self.run_dir = Path(out)
        self._attach(fitted.config.to_dict(), fitted.model, fitted.inputs, fitted.serving, fitted.result.metrics)
        self._run_config = fitted.config
        self.dataset = dataset
        return self

    def _attach(self, config: dict[str, Any], model: nn.Module, inputs: PreparedInputs, serving: ServingData,
                metrics: dict[str, Any]) -> None:
        """Hold a fitted model and its run configuration (a plain dict, resolved when needed)."""
        self._config_dict, self._run_config = config, None
        self.model, self.inputs, self.serving = model, inputs, serving
        self.metrics = dict(metrics or {})
        model_section = dict(config["model"])
        self.model_name = str(model_section.pop("name"))
        self.options = model_section
        self.train_options, self.eval_options = dict(config.get("train") or {}), dict(config.get("eval") or {})
        self.seed = self.train_options.get("seed")

    def _fitted(self) -> tuple[nn.Module, ServingData]:
        if self.model is None or self.serving is None:
            raise ConfigError(f"the {self.model_name} recommender is not fitted; call fit(dataset) or "
                              "Recommender.load(folder) first")
        return self.model, self.serving

    # ------------------------------------------------------------------ using the model
    def score(self, users: Iterable | str, items: Iterable | str | None = None) -> np.ndarray:
        """Scores of raw user ids (B) against every item (B, n_items), or against the raw item ids
        ``items`` (M): (B, M). Eval mode; for pointwise models the scores are logits."""
        model, serving = self._fitted()
        scores = score_users(model, serving.users_of(users))
        if items is not None:
            scores = scores[:, torch.from_numpy(serving.items_of(items))]
        return scores.numpy()

    def recommend(self, users: Iterable | str, k: int = 10, exclude_seen: bool = True) -> list[Recommendation]:
        """The ``k`` best items for each raw user id: a :class:`~fuserec.serving.Recommendation`
        per user (raw item ids, scores, item names). The user's train and valid items are left
        out; a user without training interactions gets the most popular items (``source``
        says so). Deterministic: eval mode, ties broken by item index."""
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}", "k")
        model, serving = self._fitted()
        return top_k(model, serving, serving.users_of(users), k, exclude_seen)

    def evaluate(self, split: str = "test", dataset: "Dataset | str | None" = None,
                 ks: list[int] | None = None) -> dict[str, float]:
        """Metrics on ``split`` of the dataset the model was fitted on (or the one given, which
        must have the same users and items; a loaded model needs it, or reloads the recorded
        SOURCE when the run recorded one)."""
        model, serving = self._fitted()
        if dataset is None:
            dataset = self.dataset
        if dataset is None:
            from fuserec.data.sources import load_dataset

            dataset = load_dataset(self.config.dataset)
        elif isinstance(dataset, (str, os.PathLike)):
            from fuserec.data.sources import load_dataset

            dataset = load_dataset(str(dataset))
        if not serving.matches(dataset):
            raise DataError(f"{dataset.name} does not have the users and items the model was fitted on "
                            f"({dataset.n_users} x {dataset.n_items} vs {serving.n_users} x {serving.n_items})",
                            dataset.meta.get("path"))
        from fuserec.train.runner import build_task

        self.dataset = dataset
        return build_task(self.config, dataset).evaluate(model, split, ks=ks)

    def embeddings(self) -> dict[str, np.ndarray]:
        """``model.embeddings()`` as numpy arrays (``user`` (n_users, d), ``item`` (n_items, d)...)."""
        model, _ = self._fitted()
        with evaluating(model):
            return {k: v.detach().float().cpu().numpy() for k, v in model.embeddings().items()}

    def export_embeddings(self, out: str | os.PathLike) -> dict[str, int]:
        """Write the user and item embeddings to Parquet (columns side, id, embedding)."""
        from fuserec.train.export import export_embeddings

        model, serving = self._fitted()
        return export_embeddings(model, serving, out)

    # ------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike) -> Path:
        """Write a self-contained saved model (see :mod:`fuserec.saved_model`)."""
        model, serving = self._fitted()
        return save_model(folder, self._config_dict, model, self.inputs, serving, self.metrics)

    @classmethod
    def load(cls, folder: str | os.PathLike, map_location: str | torch.device = "cpu") -> "Recommender":
        """A saved model (:meth:`save`, or a run's ``model/`` folder, or a run directory)."""
        folder = Path(folder)
        if not (folder / MODEL_FILE).is_file() and (folder / "model" / MODEL_FILE).is_file():
            folder = folder / "model"
        saved = load_model(folder, map_location)
        rec = cls.__new__(cls)
        rec.__init__("")  # empty state; filled from the saved folder
        rec._attach(saved.config, saved.model, saved.inputs, saved.serving, saved.info.get("metrics") or {})
        return rec

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, checkpoint: str = "best",
                 dataset: "Dataset | None" = None) -> "Recommender":
        """The model of a run directory at its ``best`` (or ``last``) checkpoint."""
        from fuserec.train.runner import open_run

        loaded = open_run(run_dir, checkpoint=checkpoint, dataset=dataset)
        rec = cls.__new__(cls)
        rec.__init__("")
        metrics = {}
        if loaded.run_dir.metrics_path.is_file():
            import json

            metrics = json.loads(loaded.run_dir.metrics_path.read_text(encoding="utf-8"))
        rec._attach(loaded.config.to_dict(), loaded.model, loaded.inputs, loaded.serving, metrics)
        rec._run_config = loaded.config
        rec.dataset = dataset
        rec.run_dir = Path(run_dir)
        return rec

    @property
    def device(self) -> torch.device:
        model, _ = self._fitted()
        return model_device(model)

    def __repr__(self) -> str:
        state = "not fitted" if self.model is None else f"{self.serving.n_users} users x {self.serving.n_items} items"
        return f"Recommender({self.model_name!r}, {state})"
