"""LightGCN (He et al., SIGIR 2020), the graph CF base of RLMRec-Con and IRLLRec.

    e⁰ = [E_U; E_I]                       ego embeddings, (N, d), learnable
    e^{l+1} = Â e^l,  l = 0..L-1          Â = D^{-1/2} A D^{-1/2} of the training split
    e = mean_l e^l  (or Σ_l e^l)          final embeddings, (N, d)
    s(u, i) = e_u · e_i
    L = L_bpr + λ_reg · ||(e⁰_u, e⁰_i⁺, e⁰_i⁻)||² / (2B)     (reg_scope: batch)
     or L_bpr + λ_reg · Σ_θ ||θ||²                          (reg_scope: all, every parameter)

``lightgcn``'s defaults (:class:`LightGCNConfig`) are the RLMRec / IRLLRec reference code's
recipe: ``sum`` layers, Xavier init, edge dropout while training (keep rate 0.8) and L2 1e-6 on
all parameters. :class:`GraphConfig` (the text models' base) keeps edge dropout off and the
L2 on the batch's rows.

The propagation is done by a backbone (:mod:`fuserec.models.backbones`) chosen by ``backbone``
(``lightgcn`` or ``simgcl``); subclasses add loss terms through :meth:`LightGCN.extra_terms`.
Final embeddings are cached while the model is in eval mode (one propagation per evaluation,
not per user batch) and dropped when it returns to train mode or a parameter changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from fuserec.config import check_range
from fuserec.errors import ConfigError
from fuserec.graph.adjacency import normalized_adjacency
from fuserec.losses import bpr_loss, l2_reg
from fuserec.models.backbones import BACKBONES, BackboneOutput, SimGCLConfig, build_backbone
from fuserec.models.registry import register_model
from fuserec.prepare.inputs import PreparedInputs
from fuserec.tensor_ops import gather_rows


@dataclass
class GraphConfig:
    """Settings shared by the graph models.

    dim: d. layers: L. reg: λ_reg (L2 on the batch's ego embeddings). aggregation: ``mean``
    (LightGCN paper, default) or ``sum`` (RLMRec/IRLLRec reference code). backbone: ``lightgcn``
    or ``simgcl`` (settings in ``simgcl``). init: ``xavier`` (uniform, RLMRec/IRLLRec reference
    code, default) or ``normal`` (std ``init_std``, LightGCN paper). The two differ in scale more
    than in shape: Xavier's bound sqrt(6 / (n + d)) shrinks with the number of rows n (entries
    ≈ 0.013 on Amazon-book), and that small start matters: LightGCN reaches test recall@20 ≈ 0.14
    on Amazon-book from Xavier but plateaus at 0.123 from N(0, 0.1²) (docs/results/irllrec).
    reg_scope: ``batch`` (λ_reg on the batch's ego rows, /2B) or ``all`` (λ_reg Σ ||θ||² over
    every parameter, the reference code's ``reg_params``). keep_rate: edge dropout while
    training (1 = off; the reference code's edge dropper keeps 0.8).
    """

    dim: int = 32
    layers: int = 3
    reg: float = 1e-7
    aggregation: Literal["mean", "sum"] = "mean"
    backbone: str = "lightgcn"
    simgcl: SimGCLConfig = field(default_factory=SimGCLConfig)
    init: Literal["xavier", "normal"] = "xavier"
    init_std: float = 0.1
    reg_scope: Literal["batch", "all"] = "batch"
    keep_rate: float = 1.0

    def validate(self) -> None:
        check_range(self.dim, "model.dim", 1)
        check_range(self.keep_rate, "model.keep_rate", 0.0, 1.0, low_inclusive=False)
        check_range(self.layers, "model.layers", 0)
        check_range(self.reg, "model.reg", 0.0)
        check_range(self.init_std, "model.init_std", 0.0, low_inclusive=False)
        if self.backbone not in BACKBONES:
            raise ConfigError(f"{self.backbone!r} is not allowed; allowed values: {', '.join(BACKBONES)}",
                              "model.backbone")


@dataclass
class LightGCNConfig(GraphConfig):
    """:class:`GraphConfig` with the reference code's LightGCN recipe as defaults: ``sum`` layers,
    edge dropout (keep 0.8), L2 1e-6 on all parameters (docs/results/irllrec: test recall@20 on
    Amazon-book, chosen on validation)."""

    aggregation: Literal["mean", "sum"] = "sum"
    reg: float = 1e-6
    reg_scope: Literal["batch", "all"] = "all"
    keep_rate: float = 0.8


@register_model("lightgcn", "LightGCN: embeddings propagated over the normalised user-item graph, BPR + L2")
class LightGCN(nn.Module):
    """Ego embeddings E_U (n_users, d), E_I (n_items, d) and a graph backbone over Â (N, N)."""

    task = "ranking"
    trainable = True
    needs: tuple[str, ...] = ("interactions",)
    Config = LightGCNConfig

    def __init__(self, inputs: PreparedInputs, cfg: GraphConfig | None = None):
        super().__init__()
        self.cfg = cfg if cfg is not None else type(self).Config()
        self.n_users, self.n_items = inputs.n_users, inputs.n_items
        # one (N, d) table holding e⁰ = [E_U; E_I] (no concatenation per batch); E_U, E_I are views
        self.ego_emb = nn.Parameter(torch.empty(self.n_users + self.n_items, self.cfg.dim))
        with torch.no_grad():
            for table in (self.ego_emb[:self.n_users], self.ego_emb[self.n_users:]):
                if self.cfg.init == "xavier":
                    nn.init.xavier_uniform_(table)
                else:
                    nn.init.normal_(table, std=self.cfg.init_std)
        train = inputs.train_matrix()
        self.backbone = build_backbone(self.cfg.backbone, normalized_adjacency(train), self.n_users,
                                       self.cfg.layers, self.cfg.aggregation, self.cfg.simgcl,
                                       keep_rate=self.cfg.keep_rate)
        self._cache: tuple[tuple, torch.Tensor] | None = None

    # ------------------------------------------------------------------ propagation
    @property
    def user_emb(self) -> torch.Tensor:
        """E_U (n_users, d), a view of the ego table."""
        return self.ego_emb[:self.n_users]

    @property
    def item_emb(self) -> torch.Tensor:
        """E_I (n_items, d), a view of the ego table."""
        return self.ego_emb[self.n_users:]

    def ego(self) -> torch.Tensor:
        """e⁰ = [E_U; E_I], (N, d)."""
        return self.ego_emb

    def propagate(self) -> BackboneOutput:
        """Backbone output for the current parameters (layers L + 1 × (N, d), final (N, d))."""
        return self.backbone(self.ego())

    def final_embeddings(self) -> torch.Tensor:
        """e (N, d). In eval mode computed once (no grad) and cached until a parameter changes."""
        if self.training:
            self._cache = None
            return self.propagate().final
        key = tuple((id(p), p._version) for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self.propagate().final)
        return self._cache[1]

    def train(self, mode: bool = True) -> "LightGCN":
        self._cache = None
        return super().train(mode)

    # ------------------------------------------------------------------ contract
    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``batch``: ``users``, ``pos``, ``neg`` LongTensors (B,).

        Returns scalars: ``loss`` (the total) and every weighted term: ``bpr``, ``reg``, the
        backbone's terms (``cl`` for SimGCL) and those of :meth:`extra_terms`; ``loss`` is their sum.
        """
        users, pos, neg = batch["users"], batch["pos"], batch["neg"]
        ego = self.ego()
        out = self.backbone(ego, dropout=True)                  # edge dropout if keep_rate < 1
        e_user, e_item = out.final[:self.n_users], out.final[self.n_users:]
        u, p, n = gather_rows(e_user, users), gather_rows(e_item, pos), gather_rows(e_item, neg)   # (B, d) each
        terms = {"bpr": bpr_loss((u * p).sum(-1), (u * n).sum(-1)), "reg": self.reg_term(users, pos, neg)}
        for name, value in self.backbone.extra_loss(ego, users, pos, out.final).items():
            terms[name] = self.backbone.loss_weights[name] * value
        terms.update(self.extra_terms(batch, out))
        total = sum(terms.values())
        return {"loss": total, **terms}

    def reg_term(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """λ_reg times the L2 of the batch's ego rows (``reg_scope: batch``) or of all parameters."""
        if self.cfg.reg_scope == "all":
            return self.cfg.reg * sum(p.square().sum() for p in self.parameters() if p.requires_grad)
        ego = self.ego()
        return self.cfg.reg * l2_reg(ego[users], ego[pos + self.n_users], ego[neg + self.n_users])

    def extra_terms(self, batch: dict[str, torch.Tensor], out: BackboneOutput) -> dict[str, torch.Tensor]:
        """Weighted loss terms a subclass adds (the text-side alignments); none here."""
        return {}

    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, n_items)`` scores e_u · e_i for ``users`` (B,), or ``(B,)`` for paired ``items`` (B,)."""
        e = self.final_embeddings()
        u = e[users]
        item_e = e[self.n_users:]
        if items is None:
            return u @ item_e.T
        return (u * item_e[items]).sum(-1)

    def embeddings(self) -> dict[str, torch.Tensor]:
        """Final CF embeddings: ``user`` (n_users, d), ``item`` (n_items, d) (detached)."""
        e = self.final_embeddings().detach()
        return {"user": e[:self.n_users], "item": e[self.n_users:]}
