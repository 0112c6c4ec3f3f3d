"""Checkpoints: tensors and plain containers only, written atomically, read with ``weights_only=True``.

A checkpoint is a dict::

    format        CHECKPOINT_FORMAT
    epoch         number of completed epochs
    model         model.state_dict()
    optimizer     optimizer.state_dict() (or None)
    scheduler     scheduler.state_dict() (or None)
    rng           torch / cuda / Python random states (see fuserec.train.seeding)
    numpy_rng     state of the last epoch's numpy Generator (plain ints)
    trainer       best metric, best epoch, evaluations without improvement, stopped flag, history
    config        the run's resolved configuration as a plain dict
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from fuserec.errors import DataError
from fuserec.io import atomic_path

CHECKPOINT_FORMAT = 1


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` to ``path`` atomically (temporary file + rename)."""
    state = dict(state, format=CHECKPOINT_FORMAT)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``; :class:`DataError` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such checkpoint", path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt, truncated, or holding objects outside the allow-list
        raise DataError(f"cannot read checkpoint: {exc}", path) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"not a fuserec checkpoint (format {CHECKPOINT_FORMAT} expected)", path, field="format")
    return state
