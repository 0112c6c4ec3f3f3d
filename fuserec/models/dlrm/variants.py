"""The registered DLRM family: ``dlrm``, ``dlrm_raw``, ``two_step`` and ``dlrrec`` (spec: dlrrec.md).

* ``dlrm``: sparse and dense fields only.
* ``dlrm_raw``: semantic vectors fed uncompressed into the bottom MLP.
* ``two_step`` (the paper's V0): each semantic field reduced to d by a PCA fitted once on the
  *training* entities (users / items with a training interaction), frozen.
* ``dlrrec``: each semantic field reduced by a trained module (co-training) and, with weights
  ``w_uu`` / ``w_ii``, SwING-InfoNCE terms that pull z_u towards a SWING neighbour of u::

      L = L_bce + w_uu · L_uu + w_ii · L_ii
      L_uu = mean_u -log( exp(z_u·z_v/τ) / (exp(z_u·z_v/τ) + Σ_n exp(z_u·z_n/τ)) )

  with z = normalize(Σ_f R_f(e_f)) (``reduced``) or normalize(Σ_f R_f(e_f) + e_id) (``fused``),
  v drawn from u's top-k SWING neighbours (∝ score or uniformly), n over M uniformly drawn users;
  L_ii likewise over the batch's items. The SWING neighbour lists are prepared inputs
  (:func:`fuserec.prepare.prepare_inputs`, on the training split's positive interactions).

Every variant receives :class:`~fuserec.prepare.inputs.PreparedInputs` and holds parameters,
scoring and loss only; what it needs besides the feature tables is in its ``needs``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from fuserec.config import check_range
from fuserec.errors import ConfigError
from fuserec.losses import swing_info_nce
from fuserec.models.dlrm.blocks import FrozenProjection
from fuserec.models.dlrm.model import (DLRMConfig, DLRMRecommender, ReducedDLRMConfig, SemanticDLRMConfig,
                                       SemanticField)
from fuserec.models.registry import register_model
from fuserec.prepare.inputs import PreparedInputs

log = logging.getLogger("fuserec.models.dlrm")


@register_model("dlrm", "DLRM (TorchRec layout): id and side-field embeddings, dense MLP, dot interaction")
class DLRM(DLRMRecommender):
    """The backbone without semantic fields."""

    semantic_mode = "none"
    Config = DLRMConfig


@register_model("dlrm_raw", "DLRM with the raw semantic (text) vectors as dense inputs of the bottom MLP")
class DLRMRaw(DLRMRecommender):
    """Semantic vectors concatenated, uncompressed, to the dense input."""

    semantic_mode = "raw"
    needs = ("features", "semantic")
    Config = SemanticDLRMConfig


@dataclass
class TwoStepConfig(SemanticDLRMConfig):
    """pca_whiten: divide each PCA component by its standard deviation (unit-variance inputs)."""

    pca_whiten: bool = False


@register_model("two_step", "DLRM on semantic vectors reduced offline by a frozen PCA fitted on training entities")
class TwoStep(DLRMRecommender):
    """The paper's V0: offline PCA to d (fitted on training entities only), then the same DLRM."""

    semantic_mode = "pca"
    needs = ("features", "semantic", "pca")
    Config = TwoStepConfig

    def _make_reducer(self, spec: SemanticField, vectors: torch.Tensor, inputs: PreparedInputs) -> nn.Module:
        """The frozen PCA of the field, fitted when the inputs were prepared ((n, D_f) → (n, d))."""
        return FrozenProjection(inputs.tensor(f"pca/{spec.name}/mean"), inputs.tensor(f"pca/{spec.name}/components"))


@dataclass
class DLRRECConfig(ReducedDLRMConfig):
    """DLRREC: co-trained reduction plus SwING-InfoNCE.

    w_uu / w_ii: weights of the user-user and item-item contrastive terms (0 switches one off;
        both 0 = co-training only).
    temperature: τ of the InfoNCE terms.
    n_negatives: M uniformly drawn users (items) per batch, shared by its anchors.
    in_batch_negatives: add the other anchors' positives as negatives.
    exclude_self_negatives: drop a drawn negative that is the anchor itself.
    neighbour_sampling: draw the positive ∝ SWING score (``weighted``) or ``uniform``ly.
    representation: ``reduced`` z = normalize(Σ R_f(e_f)); ``fused`` adds the id embedding.
    swing_topk / swing_alpha / swing_alpha1 / swing_beta / swing_max_degree: SWING's parameters
        (max_degree caps the users of an item and the items of a user, seeded sampling).
    """

    w_uu: float = 0.1
    w_ii: float = 0.1
    temperature: float = 0.2
    n_negatives: int = 64
    in_batch_negatives: bool = False
    exclude_self_negatives: bool = True
    neighbour_sampling: Literal["weighted", "uniform"] = "weighted"
    representation: Literal["reduced", "fused"] = "reduced"
    swing_topk: int = 10
    swing_alpha: float = 1.0
    swing_alpha1: float = 0.0
    swing_beta: float = 0.5
    swing_max_degree: int = 1000

    def validate(self) -> None:
        super().validate()
        check_range(self.w_uu, "model.w_uu", 0.0)
        check_range(self.w_ii, "model.w_ii", 0.0)
        check_range(self.temperature, "model.temperature", 0.0, low_inclusive=False)
        check_range(self.n_negatives, "model.n_negatives", 1)
        check_range(self.swing_topk, "model.swing_topk", 1)
        check_range(self.swing_max_degree, "model.swing_max_degree", 0)

    def swing_params(self, side: str):
        """SWING's :class:`~fuserec.graph.swing.SwingParams` for the ``side`` ("item" or "user")
        neighbours that the contrastive terms sample."""
        from fuserec.graph.swing import SwingParams

        return SwingParams(side=side, topk=self.swing_topk, alpha=self.swing_alpha, alpha1=self.swing_alpha1,
                           beta=self.swing_beta, max_users_per_item=self.swing_max_degree,
                           max_items_per_user=self.swing_max_degree, seed=self.seed)


@register_model("dlrrec", "DLRREC: DLRM with co-trained reduction of text vectors + SwING-InfoNCE (user-user, item-item)")
class DLRREC(DLRMRecommender):
    """Co-trained reduction modules and SwING-InfoNCE terms (see the module docstring)."""

    semantic_mode = "reduce"
    needs = ("features", "semantic", "swing")
    Config = DLRRECConfig

    def __init__(self, inputs: PreparedInputs, cfg: DLRRECConfig | None = None):
        super().__init__(inputs, cfg)
        cfg = self.cfg
        self.weights = {"user": cfg.w_uu, "item": cfg.w_ii}
        for side, key in (("user", "w_uu"), ("item", "w_ii")):
            if self.weights[side] > 0 and not self.semantic_names[side] and cfg.representation == "reduced":
                raise ConfigError(f"{key} > 0 needs a {side} semantic field to contrast (or representation: fused)",
                                  f"model.{key}")
            if (self.weights[side] > 0 and cfg.representation == "fused"
                    and f"{side}_id" not in self.sparse_keys[side]):
                raise ConfigError("representation 'fused' needs id fields (features.include_ids)",
                                  "model.representation")
        from fuserec.graph.sampling import NeighbourTable
        from fuserec.graph.swing import SwingResult

        # SWING neighbour lists of each contrasted side: (n_side + 1,) indptr, (nnz,) indices and scores
        self.neighbours = {side: SwingResult(inputs.array(f"swing/{side}/indptr"), inputs.array(f"swing/{side}/indices"),
                                             inputs.array(f"swing/{side}/scores"))
                           for side in ("user", "item") if self.weights[side] > 0}
        self.neighbour_tables = {side: NeighbourTable(result) for side, result in self.neighbours.items()}
        self._generator: torch.Generator | None = None

    # ------------------------------------------------------------------ sampling state
    def on_epoch_start(self, epoch: int) -> None:
        """Reseed the sampler from torch's RNG (the Trainer seeds it from (seed, epoch))."""
        self._generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, ())))

    def generator(self) -> torch.Generator:
        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.cfg.seed)
        return self._generator

    def sample_neighbours(self, side: str, anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One SWING neighbour per anchor (n,) and whether it has any: (n,) int64, (n,) bool (CPU)."""
        from fuserec.graph.sampling import sample_positive_neighbours

        neighbours, mask = sample_positive_neighbours(self.neighbour_tables[side], anchors.cpu(), self.generator(),
                                                      weighted=self.cfg.neighbour_sampling == "weighted")
        neighbours, mask = torch.as_tensor(neighbours), torch.as_tensor(mask, dtype=torch.bool)
        return torch.where(mask, neighbours, anchors.cpu()).long(), mask

    # ------------------------------------------------------------------ the loss
    def contrast_vectors(self, side: str, entities: torch.Tensor | None = None) -> torch.Tensor | None:
        """z (n, d): normalize(Σ_f R_f(e_f)) or, ``fused``, normalize(Σ_f R_f(e_f) + id embedding)."""
        if self.cfg.representation == "reduced":
            return super().contrast_vectors(side, entities)
        n = self.n_users if side == "user" else self.n_items
        if entities is None:
            entities = torch.arange(n, device=self.class_weights.device)
        k = self.sparse_keys[side].index(f"{side}_id")
        total = self.sparse[side].lookup(k, entities + 1, torch.arange(len(entities), device=entities.device))
        for name in self.semantic_names[side]:
            total = total + self.reduced(side, name, entities)
        return F.normalize(total, dim=-1)

    def contrastive_loss(self, side: str, entities: torch.Tensor) -> torch.Tensor:
        """SwING-InfoNCE over the distinct ``entities`` (B,) of the batch (anchors without neighbours masked)."""
        cfg = self.cfg
        device = entities.device
        anchors = torch.unique(entities)
        neighbours, mask = self.sample_neighbours(side, anchors)
        n = self.n_users if side == "user" else self.n_items
        negatives = torch.randint(0, n, (cfg.n_negatives,), generator=self.generator())
        nodes = torch.cat([anchors.cpu(), neighbours, negatives]).to(device)
        z = self.contrast_vectors(side, nodes)
        b = len(anchors)
        za, zp, zn = z[:b], z[b:2 * b], z[2 * b:]
        negatives = negatives.to(device)
        negative_mask = negatives.unsqueeze(0) != anchors.unsqueeze(1) if cfg.exclude_self_negatives else None
        return swing_info_nce(za, zp, zn, cfg.temperature, mask.to(device), negative_mask,
                              cfg.in_batch_negatives, normalize=False)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``loss`` = ``bce`` + ``uu`` + ``ii``, each term logged as weighted (``uu`` = w_uu · L_uu,
        ``ii`` = w_ii · L_ii, as every model family logs its terms); a term with weight 0 is
        neither computed nor logged."""
        bce = self.bce(self(batch["users"], batch["items"]), batch["labels"])
        out = {"bce": bce}
        for side, key, entities in (("user", "uu", batch["users"]), ("item", "ii", batch["items"])):
            if self.weights[side] > 0:
                out[key] = self.weights[side] * self.contrastive_loss(side, entities)
        out["loss"] = sum(out.values())
        return out


@register_model("dlrrec_leaky", "LEAKY ON PURPOSE (a label-leakage probe, not a method): dlrrec plus the "
                                "embedding of the review of the very pair scored")
class DLRRECLeaky(DLRREC):
    """``dlrrec`` plus one more reduced semantic vector: the MiniLM embedding of the review text of
    the (user, item) pair being scored (a zero vector for a pair without one).

    This breaks the leakage rule on purpose: a review states its own rating, so the label reaches
    the input at validation and test time. It exists to test the hypothesis that a headline such
    as DLRREC's 99.7 % accuracy / 0.15 % FPR comes from label leakage; never use it as a model.
    """

    needs = DLRREC.needs + ("pair_text",)

    def __init__(self, inputs: PreparedInputs, cfg: DLRRECConfig | None = None):
        super().__init__(inputs, cfg)
        from fuserec.models.dlrm.blocks import InteractionArch, OverArch, ReductionModule

        cfg = self.cfg
        log.warning("dlrrec_leaky feeds the review of the scored pair: its metrics measure label leakage")
        table = inputs.tensor("pair_text/vectors")                                     # (P + 1, D)
        self.register_buffer("pair_keys", inputs.tensor("pair_text/keys"), persistent=False)   # (P,)
        self.register_buffer("pair_table", table, persistent=False)                   # last row: no review
        self.pair_reducer = ReductionModule(table.shape[1], cfg.dim, cfg.reduction_hidden, cfg.reduction_dropout,
                                            cfg.reduction)
        n_vectors = self.interaction.num_sparse_features + 1
        self.interaction = InteractionArch(n_vectors)
        self.over_arch = OverArch(cfg.dim + self.interaction.output_pairs, list(cfg.top), cfg.dropout)

    def pair_vectors(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """(B, D) review embedding of each pair (users[b], items[b]); zeros where there is no review."""
        keys = users * self.n_items + items
        pos = torch.searchsorted(self.pair_keys, keys).clamp(max=max(len(self.pair_keys) - 1, 0))
        found = self.pair_keys[pos] == keys if len(self.pair_keys) else torch.zeros_like(keys, dtype=torch.bool)
        return self.pair_table[torch.where(found, pos, torch.full_like(pos, len(self.pair_keys)))]

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        dense_in = torch.cat([self.side_dense("user", users), self.side_dense("item", items)], dim=1)
        leak = self.pair_reducer(self.pair_vectors(users, items)).unsqueeze(1)            # (B, 1, d)
        item_vectors = torch.cat([self.side_vectors("item", items), leak], dim=1)
        return self.combine(self.side_vectors("user", users), item_vectors, dense_in)

    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B,) for pairs, or (B, n_items) through :meth:`forward` on every pair."""
        if items is not None:
            return self(users, items)
        all_items = torch.arange(self.n_items, device=users.device)
        rows = [self(u.expand(self.n_items), all_items) for u in users.view(-1, 1)]
        return torch.stack(rows) if rows else torch.zeros(0, self.n_items, device=users.device)
