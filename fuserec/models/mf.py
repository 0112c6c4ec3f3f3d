"""Matrix factorisation trained with BPR (Rendle et al., 2009).

``s(u, i) = e_u · e_i``;  loss = ``mean(-log σ(s(u, i⁺) - s(u, i⁻)))`` + ``reg · Σ||e||² / (2B)``
over the embeddings of the batch (users, positives, negatives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from fuserec.config import check_range
from fuserec.prepare.inputs import PreparedInputs
from fuserec.losses import bpr_loss, l2_reg
from fuserec.models.registry import register_model


@register_model("mf", "matrix factorisation (BPR-MF): user·item embedding dot product, BPR loss + L2")
class MF(nn.Module):
    """User and item embedding tables of width ``dim``; score = dot product."""

    task = "ranking"
    trainable = True
    needs: tuple[str, ...] = ()

    @dataclass
    class Config:
        """dim: embedding width. reg: weight of the L2 penalty on the batch's embeddings.
        init: ``xavier`` (uniform) or ``normal`` (std ``init_std``)."""

        dim: int = 64
        reg: float = 1e-4
        init: Literal["xavier", "normal"] = "xavier"
        init_std: float = 0.1

        def validate(self) -> None:
            check_range(self.dim, "model.dim", 1)
            check_range(self.reg, "model.reg", 0.0)
            check_range(self.init_std, "model.init_std", 0.0, low_inclusive=False)

    def __init__(self, inputs: PreparedInputs, cfg: "MF.Config | None" = None):
        super().__init__()
        self.cfg = cfg or MF.Config()
        self.user_emb = nn.Embedding(inputs.n_users, self.cfg.dim)
        self.item_emb = nn.Embedding(inputs.n_items, self.cfg.dim)
        for table in (self.user_emb, self.item_emb):
            if self.cfg.init == "xavier":
                nn.init.xavier_uniform_(table.weight)
            else:
                nn.init.normal_(table.weight, std=self.cfg.init_std)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``batch``: ``users``, ``pos``, ``neg`` LongTensors (B,). Returns loss, bpr, reg (scalars)."""
        u = self.user_emb(batch["users"])        # (B, d)
        p = self.item_emb(batch["pos"])          # (B, d)
        n = self.item_emb(batch["neg"])          # (B, d)
        bpr = bpr_loss((u * p).sum(-1), (u * n).sum(-1))
        reg = self.cfg.reg * l2_reg(u, p, n)
        return {"loss": bpr + reg, "bpr": bpr, "reg": reg}

    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, n_items)`` for ``users`` (B,) against all items, or ``(B,)`` for paired ``items`` (B,)."""
        u = self.user_emb(users)
        if items is None:
            return u @ self.item_emb.weight.T
        return (u * self.item_emb(items)).sum(-1)

    def embeddings(self) -> dict[str, torch.Tensor]:
        return {"user": self.user_emb.weight.detach(), "item": self.item_emb.weight.detach()}
