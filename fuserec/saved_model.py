"""A saved model: one self-contained folder that recommends without the raw data.

Layout (format 1)::

    model.json     format, fuserec version, model name, the run configuration (plain dict),
                   n_users / n_items, and the metrics of the fit when known
    weights.pt     the model's state_dict (tensors only; read with torch.load(weights_only=True))
    inputs.npz     the prepared inputs the model scores with (text vectors, feature tables, PCA,
    inputs.json    SWING lists...; see fuserec.prepare.inputs), plain arrays, no pickles
    serving.npz    raw user / item ids, item names, seen items, popularity (fuserec.serving)

Loading builds the model class from the registry with the saved config and the saved inputs and
loads the weights: the dataset, the text pipeline and SWING are never touched. The folder is
written beside its destination and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fuserec.config import from_dict
from fuserec.errors import DataError
from fuserec.io import atomic_write_json, make_temp_folder, replace_folder
from fuserec.prepare.inputs import PreparedInputs
from fuserec.serving import ServingData
from fuserec.tensor_files import check_model_state, read_tensor_file

MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
SAVED_MODEL_FORMAT = 1


@dataclass
class SavedModel:
    """What :func:`load_model` returns: the run configuration (plain dict), the model (eval mode),
    its prepared inputs and serving data, and ``info`` (the rest of ``model.json``)."""

    config: dict[str, Any]
    model: nn.Module
    inputs: PreparedInputs
    serving: ServingData
    info: dict[str, Any]


def is_saved_model(folder: str | os.PathLike) -> bool:
    return (Path(folder) / MODEL_FILE).is_file()


def save_model(folder: str | os.PathLike, config: dict[str, Any], model: nn.Module, inputs: PreparedInputs,
               serving: ServingData, metrics: dict[str, Any] | None = None) -> Path:
    """Write the folder (replacing an existing saved model there); returns its path."""
    from fuserec import __version__

    folder = Path(folder)
    if folder.exists() and not (folder.is_dir() and (not any(folder.iterdir()) or is_saved_model(folder))):
        raise DataError("exists and is not a saved model; choose another folder", folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_folder(folder)
    try:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save(state, tmp / WEIGHTS_FILE)
        inputs.save(tmp)
        serving.save(tmp)
        atomic_write_json(tmp / MODEL_FILE, {
            "format": SAVED_MODEL_FORMAT, "fuserec_version": __version__,
            "model": config["model"]["name"], "n_users": inputs.n_users, "n_items": inputs.n_items,
            "config": config, "metrics": metrics or {}})
        replace_folder(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_info(folder: str | os.PathLike) -> dict[str, Any]:
    """``model.json`` of a saved model (DataError naming the file when it is not one)."""
    path = Path(folder) / MODEL_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"not a saved model ({exc})", path) from None
    if not isinstance(info, dict) or info.get("format") != SAVED_MODEL_FORMAT:
        raise DataError(f"not a saved model (format {SAVED_MODEL_FORMAT} expected)", path, field="format")
    for key in ("model", "config"):
        if key not in info:
            raise DataError(f"missing {key!r}", path, field=key)
    return info


def load_weights(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """A state_dict read with ``torch.load(weights_only=True)`` (DataError when unusable)."""
    state = read_tensor_file(path, "weights file", map_location)
    if not isinstance(state, dict):
        raise DataError(f"the model state is a {type(state).__name__}, not a dict of tensors", path)
    return state


def build_saved(config: dict[str, Any], inputs: PreparedInputs) -> nn.Module:
    """The registered model of ``config["model"]`` built on ``inputs`` (weights not loaded yet)."""
    from fuserec.models import get_model

    section = dict(config["model"])
    cls = get_model(str(section.pop("name")))
    return cls(inputs, from_dict(cls.Config, section, prefix="model"))


def load_model(folder: str | os.PathLike, map_location: str | torch.device = "cpu") -> SavedModel:
    """Read a folder written by :func:`save_model`; the model comes back in eval mode."""
    folder = Path(folder)
    info = read_info(folder)
    inputs = PreparedInputs.load(folder)
    serving = ServingData.load(folder)
    model = build_saved(info["config"], inputs)
    state = load_weights(folder / WEIGHTS_FILE, map_location)
    check_model_state(model, state, folder / WEIGHTS_FILE)
    model.load_state_dict(state)
    model.to(map_location).eval()
    return SavedModel(info["config"], model, inputs, serving, info)
