"""Files of tensors (checkpoints, saved weights): read with ``torch.load(weights_only=True)``,
every failure one line naming the file, and a state checked against the model before loading."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from fuserec.errors import DataError


def read_tensor_file(path: str | os.PathLike, what: str = "checkpoint",
                     map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; :class:`DataError` naming the file when unusable.

    Empty, truncated and corrupt files say so; a file asking for anything besides tensors and plain
    containers is refused by name (nothing from it runs; loading it another way is never suggested).
    ``what`` names the file in messages (``checkpoint``, ``weights file``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such {what}", path)
    if path.stat().st_size == 0:
        raise DataError(f"empty {what} (0 bytes): the run that wrote it was interrupted or the "
                        "file was truncated", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - refused, corrupt or truncated: torch raises several types
        refused = _refusal(str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
        if refused:
            raise DataError(f"refused to load the {what}: {refused}; nothing from it was executed",
                            path) from None
        raise DataError(f"cannot read {what}: {_corruption(exc)}", path) from None


def check_model_state(model: torch.nn.Module, state: dict[str, Any], path: str | os.PathLike | None) -> None:
    """Compare every tensor of a checkpoint's ``state`` with ``model.state_dict()`` before loading.

    Raises:
        DataError: naming the checkpoint and the first parameter that is missing, unexpected, or
            of another shape (the model was built for another dataset or configuration).
    """
    expected = model.state_dict()
    if not isinstance(state, dict):
        raise DataError(f"the model state is a {type(state).__name__}, not a dict of tensors", path, field="model")
    for name, tensor in state.items():
        if name not in expected:
            raise DataError(f"parameter {name!r} is not in the model {type(model).__name__} (was the checkpoint "
                            "written by another model?)", path, field=f"model.{name}")
        if not isinstance(tensor, torch.Tensor) or not isinstance(expected[name], torch.Tensor):
            if not isinstance(expected[name], torch.Tensor):
                continue  # a module's extra state (get_extra_state): not a tensor on either side
            raise DataError(f"parameter {name!r} is a {type(tensor).__name__}, not a tensor", path,
                            field=f"model.{name}")
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise DataError(f"size mismatch for {name!r}: the checkpoint holds {tuple(tensor.shape)}, the model "
                            f"expects {tuple(expected[name].shape)} (was it trained on another dataset or "
                            "configuration?)", path, field=f"model.{name}")
    missing = [n for n in expected if n not in state]
    if missing:
        raise DataError(f"the checkpoint lacks {len(missing)} parameter(s) of the model, e.g. {missing[0]!r}", path,
                        field=f"model.{missing[0]}")


def _refusal(message: str) -> str | None:
    """What torch's weights-only unpickler refused (a global it was asked to import), without its
    advice to disable the check; None when the message names no global (a corrupt file)."""
    match = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", message)
    if match:
        return f"it asks for {match.group(1)!r}, which is not a tensor or plain container"
    return None


def _corruption(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError):
        detail = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
        return "corrupt pickle data" + (f" ({detail.group(1).strip()})" if detail else "")
    if isinstance(exc, EOFError) or "failed finding central directory" in text or "truncated" in text.lower():
        return "the file is truncated or not a torch file"
    if "PytorchStreamReader" in text or "zip" in text.lower():
        return "the file is corrupt (its zip archive cannot be read)"
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    first = re.sub(r"\s*\(?[^.]*weights_only[^.]*\.?", "", first).strip()  # never repeat torch's advice
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
