"""Popularity: every user gets the items with most training interactions first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fuserec.prepare.inputs import PreparedInputs
from fuserec.models.registry import register_model


@register_model("pop", "most popular items first (training interaction counts); no training")
class Pop(nn.Module):
    """Scores item ``i`` by its number of training interactions, for every user alike.

    Fitted in the constructor (``trainable = False``): the trainer evaluates it without epochs.
    """

    task = "ranking"
    trainable = False
    needs = ("interactions",)

    @dataclass
    class Config:
        """Pop has no hyperparameters."""

    def __init__(self, inputs: PreparedInputs, cfg: "Pop.Config | None" = None):
        super().__init__()
        self.cfg = cfg or Pop.Config()
        counts = np.asarray(inputs.train_matrix().sum(axis=0), dtype=np.float32).ravel()
        self.register_buffer("counts", torch.from_numpy(counts))   # (n_items,)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise RuntimeError("pop is not trained by gradient steps (trainable = False)")

    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, n_items)`` counts for each user of ``users`` (B,), or ``(B,)`` for paired ``items``."""
        if items is None:
            return self.counts.unsqueeze(0).repeat(users.shape[0], 1)  # a fresh tensor (callers mask it)
        return self.counts[items]

    def embeddings(self) -> dict[str, torch.Tensor]:
        """``{"item": (n_items, 1)}``: the popularity count of each item."""
        return {"item": self.counts.unsqueeze(1)}
