"""Where a model runs and how it is scored: the device lookup and the evaluation context.

One place for both rules:

* :func:`resolve_device` turns a ``train.device`` value (``auto``, ``cpu``, ``cuda``, ``cuda:1``)
  into a :class:`torch.device`;
* :func:`model_device` is the device of a model's first parameter or buffer (CPU for none);
* :func:`evaluating` is the block every scoring path runs in: eval mode (no dropout), no
  gradients, and the model's previous mode restored afterwards, whatever happens inside.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from fuserec.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when torch sees a device, else CPU; ``cuda`` without one → ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("cuda was asked for but torch sees no CUDA device", "train.device")
    return torch.device(name)


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); CPU when it has none."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with ``model`` in eval mode under ``torch.no_grad()``; restore its mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
