"""IRLLRec (Wang et al., SIGIR 2025): intent representations aligned across interactions and text.

Spec: shared/spec/irllrec.md, section "IRLLRec components" (numbers below refer to it). With
e^l (N, d) the backbone's layer embeddings, e (N, d) its final embeddings, s / t (N, D_s) / (N, D_t)
the profile / intent text embeddings:

1. Interaction-intent tower, prototypes C_U, C_I ∈ R^{d×K}, for l = 0..L-1:
       r̂^l = softmax(e^l C) Cᵀ                               (N, d), C = C_U on users, C_I on items
       α_ij = (cos(r̂^l_i, r̂^l_j) + 1) / 2                     on the training edges (i, j) of A
       G_ij = α_ij / Σ_j' α_ij'                               row-normalised
       g^l = G e^l;   r = mean_l g^l                          interaction intent, (N, d)
   (``intent_layers`` m > 0, a speed option beyond the paper: r = mean_{l<m} g^l.)
2. Text towers: f_s(s) (profiles), z = f_t(t) (intents), MLPs D → (D + d)/2 → d.
3. L_kd   = InfoNCE(e, f_s(s))      over the batch's users, positives, negatives (τ_kd)
4. L_pair = InfoNCE(r, z)           same groups (τ_pair)
5. L_trans: z̃ = z + z ⊙ ε₁, x̃ = x + x ⊙ ε₂, ε ~ N(0, I); InfoNCE(z̃_i, x̃_i) against the other
   nodes' x̃ (τ_trans = 1, reference); x = e (default) or r.
6. L_itm = −mean_i Σ_k softmax(f_t^m(t_i)/τ)_k log softmax(f_t(t_i)/τ)_k, teacher f_t^m an EMA
   of f_t (m = 0.999, updated in :meth:`IRLLRec.on_step_end`, starting equal to f_t).
7. L = L_bpr + λ_reg L_reg + w [λ_kd L_kd + λ_pair L_pair + λ_trans L_trans
       + λ_itm (mix_itm · L_itm + mix_trans · L_trans)]      (mix 0.6 / 0.4, reference)
   w: the gate or warm-up factor of :mod:`fuserec.models.rlmrec_con` (1 in the papers).

Logged terms (each already weighted; ``loss`` is their sum): ``bpr``, ``reg``, ``kd``, ``pair``,
``trans`` = (λ_trans + λ_itm·mix_trans)·L_trans, ``itm`` = λ_itm·mix_itm·L_itm, and the
backbone's (``cl`` for SimGCL). (The reference code multiplies L_trans by λ_trans a second time
inside the mix; at λ_trans·λ_itm ≈ 5e-8 either way it is negligible.)

Text-side nodes: ``text_mode: batch`` (default) projects only the batch's unique nodes (plus
sampled negatives) and computes L_trans over them, each InfoNCE against at most
``n_negatives`` candidates (the positive counted once), and L_itm over a sample of at most
``itm_nodes`` of them; ``full`` projects all N nodes and computes L_trans over the N × N
similarity and L_itm over all nodes (the reference computation, done here in row chunks so
that memory stays bounded). Without the intent tower
(``use_intent_tower: false``) r is replaced by e.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from fuserec.config import check_range
from fuserec.errors import ConfigError
from fuserec.graph.adjacency import SparsePattern, bipartite_adjacency
from fuserec.losses import info_nce_candidates, info_nce_shared, soft_target_cross_entropy
from fuserec.models.backbones import BackboneOutput
from fuserec.models.registry import register_model
from fuserec.models.rlmrec_con import BatchNodes, RLMRecCon, TextAlignConfig
from fuserec.models.text_side import projector
from fuserec.prepare.inputs import PreparedInputs
from fuserec.tensor_ops import gather_rows


@dataclass
class IRLLRecConfig(TextAlignConfig):
    """RLMRec-Con settings plus IRLLRec's (defaults: the reference configuration for Amazon-book).

    intent_source: intent text embeddings (same forms as ``profile_source``). n_intents: K.
    pair_weight / pair_temperature: λ_pair, τ_pair. trans_weight / trans_temperature: λ_trans,
    τ_trans. trans_target: ``e`` (reference) or ``r``. itm_weight / itm_temperature: λ_itm, τ.
    itm_mix_itm / itm_mix_trans: the 0.6 / 0.4 mix. momentum: EMA m of the teacher.
    use_intent_tower / use_pair / use_trans / use_itm (and use_kd): ablation switches.
    intent_layers: how many of the tower's layers l = 0..L-1 enter r (0: all L, the paper); m > 0
    keeps l = 0..m-1, so r = mean_{l<m} g^l. A speed option that changes the model: the tower's
    cost is linear in the layers it runs (``benchmarks/results/backbones.md`` gives its time and
    its quality at convergence against the default).
    (The latest reference configs set λ_trans = λ_itm = 1e-7, which switches them off.)
    """

    intent_source: str = "text:template"
    n_intents: int = 128
    pair_weight: float = 2e-2
    pair_temperature: float = 0.2
    trans_weight: float = 5e-4
    trans_temperature: float = 1.0
    trans_target: Literal["e", "r"] = "e"
    itm_weight: float = 1e-4
    itm_temperature: float = 1.0
    itm_nodes: int = 256
    itm_mix_itm: float = 0.6
    itm_mix_trans: float = 0.4
    momentum: float = 0.999
    use_intent_tower: bool = True
    use_pair: bool = True
    use_trans: bool = True
    use_itm: bool = True
    intent_layers: int = 0

    def validate(self) -> None:
        super().validate()
        check_range(self.n_intents, "model.n_intents", 1)
        check_range(self.itm_nodes, "model.itm_nodes", 0)
        check_range(self.intent_layers, "model.intent_layers", 0, max(self.layers, 1))
        for key in ("pair_weight", "trans_weight", "itm_weight", "itm_mix_itm", "itm_mix_trans"):
            check_range(getattr(self, key), f"model.{key}", 0.0)
        for key in ("pair_temperature", "trans_temperature", "itm_temperature"):
            check_range(getattr(self, key), f"model.{key}", 0.0, low_inclusive=False)
        check_range(self.momentum, "model.momentum", 0.0, 1.0)
        if self.trans_target == "r" and not self.use_intent_tower:
            raise ConfigError("trans_target r needs the intent tower (use_intent_tower: true)", "model.trans_target")

    @property
    def uses_intent_text(self) -> bool:
        return self.use_pair or self.use_trans or self.use_itm

    @property
    def text_term_names(self) -> tuple[str, ...]:
        """The text-side loss terms these settings switch on (the keys of ``text_terms``)."""
        switches = (("kd", self.use_kd), ("pair", self.use_pair), ("trans", self.use_trans), ("itm", self.use_itm))
        return tuple(name for name, on in switches if on)


class IntentTower(nn.Module):
    """Component 1: prototypes C_U, C_I (d, K) and the intent-weighted aggregation over A's edges."""

    def __init__(self, pattern: SparsePattern, n_users: int, dim: int, n_intents: int, n_layers: int = 0):
        super().__init__()
        self.pattern = pattern
        self.n_users = n_users
        self.n_layers = n_layers                    # m: layers entering r (0: all)
        self.user_protos = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, n_intents)))   # C_U
        self.item_protos = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, n_intents)))   # C_I

    def prototype_mix(self, x: torch.Tensor) -> torch.Tensor:
        """r̂ = softmax(x C) Cᵀ, (N, d), with C_U for user rows and C_I for item rows."""
        xu, xi = x[:self.n_users], x[self.n_users:]
        ru = torch.softmax(xu @ self.user_protos, dim=1) @ self.user_protos.T
        ri = torch.softmax(xi @ self.item_protos, dim=1) @ self.item_protos.T
        return torch.cat([ru, ri], dim=0)

    def edge_weights(self, x: torch.Tensor, pattern: SparsePattern | None = None) -> torch.Tensor:
        """(E,) row-normalised α on A's edges from the layer embeddings x (N, d); with a
        :class:`RowPattern`, on the edges of its rows only (E_Q,)."""
        pattern = self.pattern if pattern is None else pattern
        r_hat = nn.functional.normalize(self.prototype_mix(x), dim=1)
        alpha = (pattern.edge_dot(r_hat) + 1) / 2                                  # (E,), in [0, 1]
        row = pattern.row_sum(alpha).clamp_min(1e-12)
        return alpha / gather_rows(row, pattern.edge_rows)

    def forward(self, layers: list[torch.Tensor], rows: torch.Tensor | None = None) -> torch.Tensor:
        """r = mean_l G(e^l) e^l over l = 0..L-1 (just e⁰ when L = 0; l < m with ``n_layers`` m > 0):
        (N, d), or (Q, d) at the distinct node ids ``rows`` (Q,) only.

        At a row i, g^l_i needs α on i's edges only, i.e. r̂^l at i and its neighbours (the layer
        embeddings e^l of every node come from the backbone): with ``rows`` the edge work (α,
        its row sums, G e^l and their gradients) is done on the rows' edges alone. The result is
        the same as the full computation's rows (tested), up to float summation order.
        """
        inputs = layers[:-1] if len(layers) > 1 else layers
        if self.n_layers:
            inputs = inputs[:self.n_layers]
        self.pattern = self.pattern.to(layers[0].device)
        pattern = self.pattern if rows is None else self.pattern.restrict(rows)
        total = None
        for x in inputs:
            g = pattern.spmm(self.edge_weights(x, pattern), x)
            total = g if total is None else total + g
        return total / len(inputs)


@register_model("irllrec", "IRLLRec: RLMRec-Con + interaction-intent tower, intent/profile text alignment, "
                           "translation and momentum-distillation losses (any graph backbone)")
class IRLLRec(RLMRecCon):
    """RLMRec-Con plus the intent tower, intent projector f_t and its EMA teacher.

    Args:
        inputs: the training interactions, ``text/profile`` (with ``use_kd``) and ``text/intent``
            (N, D_t) (when a term uses intents).
    """

    Config = IRLLRecConfig
    needs: tuple[str, ...] = ("interactions", "profile_text", "intent_text")

    def __init__(self, inputs: PreparedInputs, cfg: IRLLRecConfig | None = None):
        super().__init__(inputs, cfg)
        cfg = self.cfg
        self.intent_tower = None
        if cfg.use_intent_tower:
            pattern = SparsePattern(bipartite_adjacency(inputs.train_matrix()))
            self.intent_tower = IntentTower(pattern, self.n_users, cfg.dim, cfg.n_intents, cfg.intent_layers)
        self.intent: torch.Tensor | None = None               # (N, D_t) constant input
        self.intent_proj = self.intent_teacher = None
        if cfg.uses_intent_text:
            self.intent = inputs.text("intent")
            self.intent_proj = projector(self.intent.shape[1], cfg.dim)                 # f_t
            if cfg.use_itm:
                self.intent_teacher = copy.deepcopy(self.intent_proj)               # f_t^m = f_t at start
                for p in self.intent_teacher.parameters():
                    p.requires_grad_(False)

    # ------------------------------------------------------------------ hooks
    @torch.no_grad()
    def on_step_end(self, step: int) -> None:
        """EMA update of the teacher: θ_m ← m θ_m + (1 − m) θ."""
        if self.intent_teacher is None:
            return
        m = self.cfg.momentum
        for p_m, p in zip(self.intent_teacher.parameters(), self.intent_proj.parameters()):
            p_m.mul_(m).add_(p.detach(), alpha=1.0 - m)

    # ------------------------------------------------------------------ components
    def interaction_intent(self, out: BackboneOutput, nodes: BatchNodes | None = None) -> torch.Tensor:
        """r: the intent tower's output, or e without the tower; (N, d), or (Q, d) at ``nodes.nodes``
        (in batch mode the tower then works on those nodes' edges only)."""
        if nodes is not None and not nodes.full:
            if self.intent_tower is None:
                return gather_rows(out.final, nodes.nodes)
            return self.intent_tower(out.layers, rows=nodes.nodes)
        return self.intent_tower(out.layers) if self.intent_tower is not None else out.final

    def trans_term(self, z: torch.Tensor, x: torch.Tensor, nodes: BatchNodes) -> torch.Tensor:
        """Unweighted L_trans for projected intents z (Q, d) and targets x (Q, d) of ``nodes``.

        Full mode: against all Q = N nodes (the N × N similarity, in row chunks). Batch mode:
        against at most ``n_negatives`` of the batch's nodes (the positive counted once).
        """
        z_noisy = z + z * torch.randn_like(z)
        x_noisy = x + x * torch.randn_like(x)
        tau = self.cfg.trans_temperature
        if nodes.full:
            return info_nce_candidates(z_noisy, x_noisy, x_noisy, tau, chunk_size=self.cfg.chunk_size)
        ids = torch.arange(len(z), device=z.device)
        cand = self._at_most(ids, self.cfg.n_negatives)
        inside = torch.zeros(len(z), dtype=torch.bool, device=z.device)
        inside[cand] = True
        return info_nce_shared(z_noisy, x_noisy, x_noisy[cand], inside, tau)

    def itm_term(self, z: torch.Tensor, intent_rows: torch.Tensor, nodes: BatchNodes) -> torch.Tensor:
        """Unweighted L_itm: the teacher's softmax over d distilled into the student's.

        Args:
            z: (Q, d) student projections of ``intent_rows`` (Q, D_t).
        Batch mode averages over a uniform sample of at most ``itm_nodes`` of the Q rows (an
        unbiased estimate of the mean over all of them), so that the teacher projects only those.
        """
        if not nodes.full and self.cfg.itm_nodes > 0:
            keep = self._at_most(torch.arange(len(z), device=z.device), self.cfg.itm_nodes)
            z, intent_rows = z[keep], intent_rows[keep]
        with torch.no_grad():
            z_teacher = self.intent_teacher(intent_rows)
        return soft_target_cross_entropy(z, z_teacher, self.cfg.itm_temperature)

    def text_terms(self, batch: dict[str, torch.Tensor], out: BackboneOutput) -> dict[str, torch.Tensor]:
        """Weighted text-side terms at full weight (the gate is applied by the caller): ``kd``,
        ``pair``, ``trans``, ``itm``, each only when switched on."""
        cfg = self.cfg
        nodes: BatchNodes = self.batch_nodes(batch)
        terms: dict[str, torch.Tensor] = {}
        if cfg.use_kd:
            terms["kd"] = cfg.kd_weight * self.kd_term(out, nodes)
        if not cfg.uses_intent_text:
            return terms
        intent_rows = self.rows(self._on_device("intent", out.final.device), nodes)   # (Q, D_t)
        z = self.intent_proj(intent_rows)                                              # (Q, d)
        r = None
        if cfg.use_pair or cfg.trans_target == "r":
            r = self.interaction_intent(out, nodes)                                    # (Q, d) at nodes.nodes
        if cfg.use_pair:
            terms["pair"] = cfg.pair_weight * self.align(gather_rows(r, nodes.loc), z, nodes, cfg.pair_temperature)
        trans = None
        if cfg.use_trans:
            target = self.rows(out.final, nodes) if cfg.trans_target == "e" else r
            trans = self.trans_term(z, target, nodes)
            w = cfg.trans_weight + (cfg.itm_weight * cfg.itm_mix_trans if cfg.use_itm else 0.0)
            terms["trans"] = w * trans
        if cfg.use_itm:
            terms["itm"] = cfg.itm_weight * cfg.itm_mix_itm * self.itm_term(z, intent_rows, nodes)
        return terms
