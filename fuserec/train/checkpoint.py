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
from fuserec.tensor_files import check_model_state, read_tensor_file

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "check_model_state", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = 1


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` to ``path`` atomically (temporary file + rename)."""
    state = dict(state, format=CHECKPOINT_FORMAT)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


class Checkpoint(dict):
    """A loaded checkpoint: the saved dict, plus ``path`` (the file it came from, for messages)."""

    path: Path | None = None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint with ``torch.load(weights_only=True)``; :class:`DataError` if unusable.

    Every failure is one line naming the file: empty, truncated or corrupt files say so, and a
    file asking for anything besides tensors and plain containers is refused by name (nothing
    from it runs; loading it another way is never suggested).
    """
    path = Path(path)
    state = read_tensor_file(path, "checkpoint", map_location)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"not a fuserec checkpoint (format {CHECKPOINT_FORMAT} expected)", path, field="format")
    out = Checkpoint(state)
    out.path = path
    return out
