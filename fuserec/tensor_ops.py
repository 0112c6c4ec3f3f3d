"""Small tensor operations shared by the models' hot paths.

``table[ids]`` (advanced indexing) runs a generic element-wise gather forward and an
``index_put_(accumulate=True)`` backward that sorts the indices; ``index_select`` copies whole
rows forward and accumulates with ``index_add_`` backward, 2-4x faster on CPU for the row
gathers of embedding and text tables (``benchmarks/results/backbones.md``). Same values, same
gradients (up to float summation order in the backward).
"""

from __future__ import annotations

import torch


def gather_rows(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``table[ids]`` for integer ``ids`` of any shape S: rows of ``table`` (N, *F) → (*S, *F)."""
    flat = torch.index_select(table, 0, ids.reshape(-1))
    return flat.view(*ids.shape, *table.shape[1:])
