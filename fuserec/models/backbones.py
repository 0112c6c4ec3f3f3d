"""Graph CF backbones: from ego embeddings e⁰ to per-layer and final node embeddings.

A backbone maps the ego embeddings ``e⁰ = [E_U; E_I]`` (N, d) through the normalised bipartite
adjacency Â (N, N) and returns a :class:`BackboneOutput`: the layer embeddings ``e⁰..e^L`` and
the aggregated final embeddings ``e``. It may add its own loss terms (:meth:`Backbone.extra_loss`,
weighted by :attr:`Backbone.loss_weights`), computed from the batch's users and items.

* :class:`LightGCNBackbone` (He et al., 2020): ``e^{l+1} = Â e^l``; ``e = mean_l e^l`` (paper,
  default) or ``Σ_l e^l`` (RLMRec / IRLLRec reference code). With ``keep_rate`` < 1 (the
  RLMRec / IRLLRec reference code's edge dropper), every training forward pass propagates
  through Â with each entry kept with probability ``keep_rate`` and scaled by 1 / ``keep_rate``
  (one draw per pass, shared by the layers); scores and embeddings use Â itself.
* :class:`SimGCLBackbone` (Yu et al., 2022): LightGCN plus two noise-perturbed views,
  ``e^{l+1} = Â e^l + Δ``, ``Δ = ε · sign(e^{l+1}) ⊙ normalize(U(0, 1))``, and an InfoNCE
  between the views of the batch's users and of its positive items (weight ``cl_weight``,
  temperature ``cl_temperature``, times the gate w = min(1, (ē / ρ)²) of
  :func:`fuserec.losses.norm_gate`, ρ = ``cl_gate_norm``); the scores use the unperturbed
  embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from fuserec.config import check_range
from fuserec.graph.adjacency import SparsePattern, drop_edges, propagate, spmm_symmetric
from fuserec.losses import info_nce_candidates, norm_gate
from fuserec.tensor_ops import gather_rows

Aggregation = Literal["mean", "sum"]


class BackboneOutput(NamedTuple):
    """layers: L + 1 tensors (N, d), ``e⁰..e^L``; final: (N, d), the aggregated embeddings ``e``."""

    layers: list[torch.Tensor]
    final: torch.Tensor


def aggregate(layers: list[torch.Tensor], how: Aggregation) -> torch.Tensor:
    """(N, d) mean or sum of the layer embeddings (accumulated in place of a stacked copy)."""
    total = layers[0]
    for layer in layers[1:]:
        total = total + layer
    return total / len(layers) if how == "mean" else total


@dataclass
class SimGCLConfig:
    """SimGCL's settings. eps: noise magnitude ε (SimGCL paper 0.1; IRLLRec's Amazon config 0.9).
    cl_weight: λ_cl of the view-contrast InfoNCE. cl_temperature: its τ.
    cl_negatives: ``batch`` (the other batch rows of view 2) or ``all`` (every user / item of
    view 2, the reference computation). cl_gate_norm: ρ of the gate w = min(1, (ē / ρ)²) on the
    contrastive term, ē the mean norm of the batch users' final embeddings (0: no gate, the
    papers' loss). Without it, from Xavier init the cosine InfoNCE's gradient (∝ 1 / |e|) outgrows
    BPR's (∝ |e|) and BPR never leaves ln 2 (measured: docs/results/irllrec/README.md, "SimGCL");
    the text models gate their alignment terms the same way (``align_gate_norm``)."""

    eps: float = 0.1
    cl_weight: float = 0.1
    cl_temperature: float = 0.2
    cl_negatives: Literal["batch", "all"] = "batch"
    cl_gate_norm: float = 1.0

    def validate(self) -> None:
        check_range(self.eps, "model.simgcl.eps", 0.0)
        check_range(self.cl_gate_norm, "model.simgcl.cl_gate_norm", 0.0)
        check_range(self.cl_weight, "model.simgcl.cl_weight", 0.0)
        check_range(self.cl_temperature, "model.simgcl.cl_temperature", 0.0, low_inclusive=False)


class Backbone(nn.Module):
    """Base class: holds Â (a constant sparse (N, N) tensor, not a parameter nor in the state dict)."""

    #: weight of each term :meth:`extra_loss` returns
    loss_weights: dict[str, float] = {}

    def __init__(self, adj: torch.Tensor, n_users: int, layers: int, aggregation: Aggregation = "mean",
                 keep_rate: float = 1.0):
        super().__init__()
        self.adj = adj
        self.n_users = n_users
        self.n_layers = layers
        self.aggregation = aggregation
        self.keep_rate = keep_rate
        self._pattern: SparsePattern | None = None       # Â's pattern, built on first edge dropout

    def _adj_on(self, device: torch.device) -> torch.Tensor:
        if self.adj.device != device:
            self.adj = self.adj.to(device)
        return self.adj

    def dropped_adjacency(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(Â', Â'ᵀ): Â with edge dropout at ``keep_rate`` (:func:`drop_edges`), and its
        transpose, both CSR (N, N) on the pattern of Â (the transpose by a permutation of values)."""
        adj = self._adj_on(device)
        if self._pattern is None or self._pattern.crow.device != device:
            self._pattern = SparsePattern.from_csr_tensor(adj)
        values = drop_edges(adj.values(), self.keep_rate)
        return self._pattern.matrix(values), self._pattern.matrix(values[self._pattern.transpose])

    def propagate(self, ego: torch.Tensor, dropout: bool = False) -> list[torch.Tensor]:
        """``[e⁰, ..., e^L]`` (L + 1 × (N, d)): through Â, or with edge dropout when ``dropout``
        and ``keep_rate`` < 1."""
        if dropout and self.keep_rate < 1.0:
            adj, adj_t = self.dropped_adjacency(ego.device)
            return propagate(adj, ego, self.n_layers, adj_t=adj_t)
        return propagate(self._adj_on(ego.device), ego, self.n_layers)

    def forward(self, ego: torch.Tensor, dropout: bool = False) -> BackboneOutput:  # pragma: no cover
        """ego (N, d) → layers, final; ``dropout``: a training pass (edge dropout at ``keep_rate``)."""
        raise NotImplementedError

    def extra_loss(self, ego: torch.Tensor, users: torch.Tensor, items: torch.Tensor,
                   final: torch.Tensor) -> dict[str, torch.Tensor]:
        """Backbone loss terms for the batch (``users`` (B,), positive ``items`` (B,)), before
        :attr:`loss_weights`; ``final``: (N, d) this pass's final embeddings."""
        return {}


class LightGCNBackbone(Backbone):
    """``e^{l+1} = Â e^l`` for l < L; ``e = aggregate(e⁰..e^L)``."""

    def forward(self, ego: torch.Tensor, dropout: bool = False) -> BackboneOutput:
        """ego (N, d) → layers L + 1 × (N, d), final (N, d); ``dropout``: edge dropout (a
        training pass of the loss; scores and embeddings use Â itself)."""
        layers = self.propagate(ego, dropout)
        return BackboneOutput(layers, aggregate(layers, self.aggregation))


class SimGCLBackbone(LightGCNBackbone):
    """LightGCN propagation for the scores; two perturbed views for its contrastive loss."""

    def __init__(self, adj: torch.Tensor, n_users: int, layers: int, aggregation: Aggregation = "mean",
                 cfg: SimGCLConfig | None = None, keep_rate: float = 1.0):
        super().__init__(adj, n_users, layers, aggregation, keep_rate)
        self.cfg = cfg or SimGCLConfig()
        self.loss_weights = {"cl": self.cfg.cl_weight}
        self.last_gate: torch.Tensor | None = None        # w of the last extra_loss call (detached)

    def perturbed(self, ego: torch.Tensor) -> torch.Tensor:
        """One noisy view (N, d): after every layer ``e += ε · sign(e) ⊙ normalize(U(0,1)^{N×d})``."""
        adj = self._adj_on(ego.device)
        layers = [ego]
        for _ in range(self.n_layers):
            h = spmm_symmetric(adj, layers[-1])
            noise = F.normalize(torch.rand_like(h), dim=-1)
            layers.append(h + self.cfg.eps * torch.sign(h) * noise)
        return aggregate(layers, self.aggregation)

    def extra_loss(self, ego: torch.Tensor, users: torch.Tensor, items: torch.Tensor,
                   final: torch.Tensor) -> dict[str, torch.Tensor]:
        """``cl`` = w · [InfoNCE(view1, view2) over the batch's users + the same over its positive
        items], w = :func:`norm_gate` of ``final[users]`` at ρ = ``cl_gate_norm`` (kept in
        :attr:`last_gate`).

        ``cl_negatives: batch``: the batch's unique users (items), each contrasted with the others
        (SimGCL's own code); ``all``: the batch rows against every user (item) of view 2 (the
        IRLLRec reference code).
        """
        v1, v2 = self.perturbed(ego), self.perturbed(ego)
        tau = self.cfg.cl_temperature
        total = ego.new_zeros(())
        for nodes, lo, hi in ((users, 0, self.n_users), (items + self.n_users, self.n_users, len(ego))):
            if self.cfg.cl_negatives == "all":
                loss = info_nce_candidates(gather_rows(v1, nodes), gather_rows(v2, nodes), v2[lo:hi], tau,
                                           chunk_size=1024)
            else:
                uniq = nodes.unique()
                v2_uniq = gather_rows(v2, uniq)
                loss = info_nce_candidates(gather_rows(v1, uniq), v2_uniq, v2_uniq, tau, chunk_size=1024)
            total = total + loss
        self.last_gate = norm_gate(final[users], self.cfg.cl_gate_norm)
        return {"cl": self.last_gate * total}


BACKBONES = ("lightgcn", "simgcl")


def build_backbone(name: str, adj: torch.Tensor, n_users: int, layers: int, aggregation: Aggregation,
                   simgcl: SimGCLConfig | None = None, keep_rate: float = 1.0) -> Backbone:
    """The backbone called ``name`` (``lightgcn`` or ``simgcl``); ``keep_rate``: edge dropout."""
    if name == "lightgcn":
        return LightGCNBackbone(adj, n_users, layers, aggregation, keep_rate)
    if name == "simgcl":
        return SimGCLBackbone(adj, n_users, layers, aggregation, simgcl, keep_rate)
    raise ValueError(f"unknown backbone {name!r}; allowed: {', '.join(BACKBONES)}")
