"""Positive-neighbour sampling from SWING neighbour lists (for contrastive learning).

Every anchor draws one neighbour from its top-k list, with probability proportional to the
SWING score (``weighted=True``) or uniformly. Fully vectorised: one uniform draw per anchor,
mapped into the row's slice of a global cumulative-score array by ``searchsorted``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class NeighbourTable:
    """Torch view of a :class:`fuserec.graph.swing.SwingResult` for repeated sampling.

    Attributes: ``indptr`` (n+1,) int64, ``indices`` (nnz,) int64, ``cumulative`` (nnz,) float64
    running sum of all scores (rows laid end to end), ``row_base`` (n,) float64 cumulative score
    before each row, ``row_total`` (n,) float64 score mass of each row.
    """

    def __init__(self, result: Any):
        self.indptr = torch.as_tensor(np.asarray(result.indptr, dtype=np.int64))
        self.indices = torch.as_tensor(np.asarray(result.indices, dtype=np.int64))
        scores = np.asarray(result.scores, dtype=np.float64)
        cumulative = np.cumsum(scores)
        starts = np.asarray(result.indptr[:-1], dtype=np.int64)
        ends = np.asarray(result.indptr[1:], dtype=np.int64)
        padded = np.concatenate([[0.0], cumulative])
        self.cumulative = torch.as_tensor(cumulative)
        self.row_base = torch.as_tensor(padded[starts])
        self.row_total = torch.as_tensor(padded[ends] - padded[starts])

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1


def sample_positive_neighbours(result: Any, anchors: torch.Tensor, generator: torch.Generator | None = None,
                               weighted: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One positive neighbour per anchor.

    Args:
        result: a ``SwingResult`` (or a :class:`NeighbourTable` built from one, to reuse it).
        anchors: ``(B,)`` LongTensor of node indices.
        generator: torch random generator (CPU) for reproducible draws.
        weighted: probability proportional to the score (True) or uniform over the list.
    Returns:
        ``neighbours``: ``(B,)`` LongTensor; the anchor itself where it has no neighbour.
        ``mask``: ``(B,)`` BoolTensor, False for anchors without any neighbour.
    """
    table = result if isinstance(result, NeighbourTable) else NeighbourTable(result)
    anchors = torch.as_tensor(anchors, dtype=torch.long).reshape(-1)
    if len(anchors) and (int(anchors.min()) < 0 or int(anchors.max()) >= table.n_nodes):
        raise IndexError(f"anchor index out of range [0, {table.n_nodes})")
    start = table.indptr[anchors]
    end = table.indptr[anchors + 1]
    degree = end - start
    mask = degree > 0
    draws = torch.rand(len(anchors), generator=generator, dtype=torch.float64)
    if weighted:
        target = table.row_base[anchors] + draws * table.row_total[anchors]
        pos = torch.searchsorted(table.cumulative, target, right=True)
    else:
        pos = start + torch.floor(draws * degree.to(torch.float64)).to(torch.long)
    # guard rounding at the row edges; rows without neighbours are masked anyway
    pos = torch.minimum(torch.maximum(pos, start), (end - 1).clamp(min=0))
    if len(table.indices):
        pos = pos.clamp(max=len(table.indices) - 1)
        neighbours = torch.where(mask, table.indices[pos], anchors)
    else:
        neighbours = anchors.clone()
    return neighbours, mask
