"""What a training batch is, and how an epoch is cut into batches (shared by every task)."""

from __future__ import annotations

from typing import Iterator

import torch

#: a batch: named (B,) tensors (``users``/``pos``/``neg`` or ``users``/``items``/``labels``)
Batch = dict[str, torch.Tensor]


def slices(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``batch_size`` covering ``range(n)``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))
