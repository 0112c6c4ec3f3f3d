"""RLMRec-Con (Ren et al., WWW 2024): a graph CF backbone aligned with LLM profile embeddings.

    e = backbone(e⁰)                                     CF embeddings, (N, d)
    f_s(s) = MLP(D_s → (D_s + d)/2 → d)(s)               projected profile embeddings, (N, d)
    L_kd = Σ_{g ∈ {users, pos, neg}} mean_b [ logsumexp_c cos(e_b, f_s(s)_c)/τ_kd − cos(e_b, f_s(s)_b)/τ_kd ]
    L = L_bpr + λ_reg L_reg + w λ_kd L_kd                (λ_kd 1e-2, τ_kd 0.2)

w multiplies every text-side term (here λ_kd L_kd; IRLLRec's four). With t the training epoch
(1-based), ρ = ``align_gate_norm`` and W = ``align_warmup_epochs``:

    w = min(1, (ē / ρ)²)            gate (ρ > 0, W = 0; the default, ρ = 1)
    w = 0 if t ≤ W, else 1          ungated warm-up (W > 0, which needs ρ = 0)
    w = 1                           the papers' loss (ρ = 0, W = 0)

with ē the mean norm of the batch's user embeddings e_u (detached). The two schedules exclude
each other (a ConfigError otherwise), so that each run has one. During the warm-up the text-side
terms are not computed at all: they are logged as 0 and give no gradient (with ``reg_scope:
batch``, the default, the projectors stay at their initialisation and Adam's state for them
untouched until epoch W + 1; under DDP they are unused parameters then, so keep
``find_unused_parameters``, the default). The model learns t from the Trainer's
``on_epoch_start`` hook, which is called before every epoch, also after a resume and on every
DDP rank (before the first call the model counts as in epoch 0). After each ``loss`` call,
:meth:`RLMRecCon.step_diagnostics` returns ``align_gate`` = w, which the Trainer averages per
epoch into the log and ``curves.csv`` (not into the loss).

Why the gate (measured, docs/results/irllrec/README.md): BPR's gradient on e grows with |e|
while a cosine InfoNCE's gradient on its anchors grows with 1/|e|, so their ratio goes as |e|².
From the reference code's Xavier init (entries ≈ sqrt(2 / n_users), 0.013 on Amazon-book) the
alignment terms set Adam's step sizes from the first batch, and BPR never leaves ln 2:
RLMRec-Con with ``mean`` layers on ML-100K stays at bpr 0.693 for 8 epochs (valid recall@20
0.04), and IRLLRec, whose L_pair anchors r are ≈ 0.1 |e| at the start, stays at 0.691 even with
``sum`` layers. The gate multiplies the terms by the |e|² that their gradients lack until the
CF embeddings have grown to norm ρ, then leaves the paper's λ unchanged; with it IRLLRec trains
from Xavier on ML-100K (text) and on Amazon-book (random text vectors). Layers are aggregated
with ``sum`` by default here (the reference code; LightGCN's own default is ``mean``), which
makes e L + 1 times larger and the gate open sooner. The warm-up is the schedule-based
alternative: BPR alone for W epochs, then the paper's loss unchanged.

Candidates c of each group (``text_mode`` / ``negatives``):

* ``batch`` mode (default): only the batch's nodes are projected. Each group's anchors are
  contrasted with its positive and a shared set of at most M = ``n_negatives`` (256)
  candidates, the positive counted once whether or not it is among them: ``negatives: batch`` draws them from the group's own
  unique nodes in the batch (all of them when there are at most M), ``sampled`` uniformly from
  all users (user group) or all items (item groups).
* ``full`` mode (the reference computation): every node is projected; the user group's
  candidates are all users, the item groups' are their B batch rows (duplicates included).

:class:`BatchNodes` and :meth:`RLMRecCon.align` are shared with IRLLRec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import torch

from fuserec.config import check_range
from fuserec.errors import ConfigError
from fuserec.losses import info_nce_candidates, info_nce_shared, norm_gate
from fuserec.models.backbones import BackboneOutput
from fuserec.models.lightgcn import GraphConfig, LightGCN
from fuserec.models.registry import register_model
from fuserec.models.text_side import projector
from fuserec.prepare.inputs import PreparedInputs
from fuserec.tensor_ops import gather_rows


@dataclass
class TextAlignConfig(GraphConfig):
    """Graph settings plus the text side.

    profile_source: where profile embeddings come from (``text:template``, ``random:1536``, a
    .npz/.npy path; see :mod:`fuserec.prepare.text`). text_control: ``none``, ``shuffled`` or
    ``random`` (:func:`fuserec.text.controls.apply_text_control`, seeded by ``text_seed``), applied
    to every text input when it is prepared. kd_weight / kd_temperature: λ_kd, τ_kd.
    text_mode: ``batch`` (only the batch's nodes) or ``full`` (all N nodes, reference).
    negatives: ``batch`` (candidates from the batch's own nodes) or ``sampled`` (random nodes of
    the side). n_negatives: M, the most candidates per InfoNCE in batch mode.
    text_seed: seed of ``random:`` sources. chunk_size: rows per InfoNCE chunk (bounds memory).
    use_kd: keep L_kd (ablation switch). align_gate_norm: ρ of the gate
    w = min(1, (mean |e_u| / ρ)²) on the text-side terms (0: no gate). align_warmup_epochs: W,
    the text-side terms off for the first W training epochs and at full weight after (0: no
    warm-up; W > 0 needs ``align_gate_norm: 0``). See the module docstring.
    cold_start: ``text_ridge`` scores entities without training interactions (cold users/items)
    from their profile text: at evaluation, a ridge map (strength ``cold_start_ridge``) from the
    profile vector to the final CF embedding, fitted on the side's warm entities, gives the cold
    entities' embeddings. Beyond the papers (which never score cold entities); off by default.
    aggregation defaults to ``sum`` here (see the module docstring for why).
    """

    aggregation: Literal["mean", "sum"] = "sum"

    profile_source: str = "text:template"
    text_control: Literal["none", "shuffled", "random"] = "none"
    kd_weight: float = 1e-2
    kd_temperature: float = 0.2
    text_mode: Literal["batch", "full"] = "batch"
    negatives: Literal["batch", "sampled"] = "batch"
    n_negatives: int = 256
    text_seed: int = 0
    chunk_size: int = 1024
    use_kd: bool = True
    align_gate_norm: float = 1.0
    align_warmup_epochs: int = 0
    cold_start: Literal["none", "text_ridge"] = "none"
    cold_start_ridge: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_range(self.align_gate_norm, "model.align_gate_norm", 0.0)
        check_range(self.align_warmup_epochs, "model.align_warmup_epochs", 0)
        if self.align_warmup_epochs > 0:
            if self.align_gate_norm > 0:
                raise ConfigError("a warm-up replaces the gate on the text-side terms: set model.align_gate_norm: 0 "
                                  "with it (or model.align_warmup_epochs: 0 to keep the gate)",
                                  "model.align_warmup_epochs")
            if not self.text_term_names:
                raise ConfigError("there is no text-side term to warm up (every one is switched off)",
                                  "model.align_warmup_epochs")
        check_range(self.kd_weight, "model.kd_weight", 0.0)
        check_range(self.kd_temperature, "model.kd_temperature", 0.0, low_inclusive=False)
        check_range(self.n_negatives, "model.n_negatives", 1)
        check_range(self.chunk_size, "model.chunk_size", 1)

    @property
    def text_term_names(self) -> tuple[str, ...]:
        """The text-side loss terms these settings switch on (the keys of ``text_terms``)."""
        return ("kd",) if self.use_kd else ()


def text_ridge_fill(e: torch.Tensor, text: torch.Tensor, warm: torch.Tensor, n_users: int,
                    ridge: float) -> torch.Tensor:
    """``e`` (N, d) with the rows of cold nodes (``~warm``, (N,) bool) replaced, per side (users
    ``[:n_users]``, items after), by ``[x, 1] W`` where W solves the ridge regression
    ``min ||[X, 1] W - E||² + ridge ||W||²`` on the side's warm nodes (x: (N, D) text vectors)."""
    out = e.clone()
    for lo, hi in ((0, n_users), (n_users, e.shape[0])):
        w_mask, c_mask = warm[lo:hi], ~warm[lo:hi]
        if not c_mask.any() or not w_mask.any():
            continue
        x = torch.cat([text[lo:hi], torch.ones(hi - lo, 1, device=e.device)], dim=1).double()
        xw, yw = x[w_mask], e[lo:hi][w_mask].double()
        gram = xw.T @ xw + ridge * torch.eye(x.shape[1], dtype=x.dtype, device=e.device)
        coef = torch.linalg.solve(gram, xw.T @ yw)                         # (D + 1, d)
        out[lo:hi][c_mask] = (x[c_mask] @ coef).to(e.dtype)
    return out


class BatchNodes(NamedTuple):
    """Where a batch's text-side terms look.

    groups: (3, B) node ids of the batch's users, positive items and negative items (items
        offset by n_users). nodes: (Q,) sorted node ids whose text is projected (the batch's
        unique nodes plus sampled negatives; all N nodes in full mode). loc: (3, B) position of
        each group entry in ``nodes``. candidates: per group, (M_g,) positions in ``nodes`` of its
        InfoNCE candidates (batch mode), or None (full mode). full: whether ``nodes`` is every node.
    """

    groups: torch.Tensor
    nodes: torch.Tensor
    loc: torch.Tensor
    candidates: list[torch.Tensor] | None
    full: bool


def distinct_rows(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For ids (B,): ``first`` (U,) the position of each distinct id's first occurrence, ``uniq``
    (U,) the distinct ids (sorted), ``counts`` (U,) how often each occurs."""
    uniq, inverse, counts = torch.unique(ids, sorted=True, return_inverse=True, return_counts=True)
    first = torch.full_like(uniq, len(ids)).scatter_reduce_(
        0, inverse, torch.arange(len(ids), device=ids.device), "amin")
    return first, uniq, counts


@register_model("rlmrec_con", "RLMRec-Con: LightGCN (or SimGCL) + InfoNCE alignment with projected LLM profile embeddings")
class RLMRecCon(LightGCN):
    """LightGCN/SimGCL plus the profile projector f_s and L_kd.

    Args:
        inputs: the training interactions and, with ``use_kd``, ``text/profile`` (N, D_s).
    """

    Config = TextAlignConfig
    needs: tuple[str, ...] = ("interactions", "profile_text")

    def __init__(self, inputs: PreparedInputs, cfg: TextAlignConfig | None = None):
        super().__init__(inputs, cfg)
        self.profile: torch.Tensor | None = None        # (N, D_s) constant input
        self.profile_proj = None
        if self.cfg.use_kd:
            self.profile = inputs.text("profile")
            self.profile_proj = projector(self.profile.shape[1], self.cfg.dim)
        if self.cfg.cold_start == "text_ridge" and self.profile is None:
            raise ConfigError("cold_start 'text_ridge' needs the profile text (use_kd: true)", "model.cold_start")
        train = inputs.train_matrix()
        warm = np.zeros(self.n_users + self.n_items, dtype=bool)
        warm[:self.n_users] = np.diff(train.indptr) > 0
        warm[self.n_users:] = np.bincount(train.indices, minlength=self.n_items) > 0
        self.register_buffer("warm", torch.from_numpy(warm), persistent=False)       # (N,) has training edges
        self.epoch = 0                                   # the training epoch t, set by on_epoch_start
        self._diagnostics: dict[str, torch.Tensor] = {}  # of the last loss call

    # ------------------------------------------------------------------ hooks
    def on_epoch_start(self, epoch: int) -> None:
        """Record the training epoch t (1-based), which the warm-up schedule reads."""
        self.epoch = epoch

    def step_diagnostics(self) -> dict[str, torch.Tensor]:
        """``align_gate``: the factor w on the text-side terms in the last :meth:`loss` call (a
        detached scalar; absent when there are no text-side terms). Read by the Trainer."""
        return dict(self._diagnostics)

    def final_embeddings(self) -> torch.Tensor:
        """e (N, d); with ``cold_start: text_ridge``, in eval mode, cold entities' rows come from their text."""
        e = super().final_embeddings()
        if self.training or self.cfg.cold_start == "none" or bool(self.warm.all()):
            return e
        return text_ridge_fill(e, self.profile.to(e.device), self.warm.to(e.device), self.n_users,
                               self.cfg.cold_start_ridge)

    # ------------------------------------------------------------------ batch nodes
    def batch_nodes(self, batch: dict[str, torch.Tensor]) -> BatchNodes:
        """The :class:`BatchNodes` of ``batch`` under the configured mode and negatives."""
        u_off, m = self.n_users, self.cfg.n_negatives
        groups = torch.stack([batch["users"], batch["pos"] + u_off, batch["neg"] + u_off])   # (3, B)
        device = groups.device
        if self.cfg.text_mode == "full":
            return BatchNodes(groups, torch.arange(u_off + self.n_items, device=device), groups, None, True)
        sampled = []
        if self.cfg.negatives == "sampled":
            sampled = [torch.randint(0, u_off, (m,), device=device).unique(),
                       torch.randint(u_off, u_off + self.n_items, (m,), device=device).unique()]
        wanted = torch.cat([groups.reshape(-1), *sampled])
        nodes, inverse = torch.unique(wanted, sorted=True, return_inverse=True)
        loc = inverse[:groups.numel()].view_as(groups)
        if sampled:
            rest = inverse[groups.numel():]
            user_cands, item_cands = rest[:len(sampled[0])], rest[len(sampled[0]):]
            candidates = [user_cands, item_cands, item_cands]
        else:
            candidates = [self._at_most(loc[g].unique(), m) for g in range(3)]
        return BatchNodes(groups, nodes, loc, candidates, False)

    @staticmethod
    def _at_most(positions: torch.Tensor, m: int) -> torch.Tensor:
        """``positions`` if there are at most ``m``, else a uniform random subset of ``m`` of them."""
        if len(positions) <= m:
            return positions
        return positions[torch.randperm(len(positions), device=positions.device)[:m]]

    @staticmethod
    def rows(table: torch.Tensor, nodes: BatchNodes) -> torch.Tensor:
        """(Q, D) rows of a per-node (N, D) table at ``nodes.nodes`` (no copy in full mode)."""
        return table if nodes.full else gather_rows(table, nodes.nodes)

    def align(self, anchors: torch.Tensor, targets: torch.Tensor, nodes: BatchNodes,
              temperature: float) -> torch.Tensor:
        """Σ over the three groups of the InfoNCE between anchors and projected texts.

        Args:
            anchors: (3, B, d) CF-side vectors of the batch's users / positives / negatives.
            targets: (Q, d) text-side vectors of ``nodes.nodes``.
        """
        total = anchors.new_zeros(())
        for g in range(3):
            if nodes.full:
                positives = gather_rows(targets, nodes.loc[g])                               # (B, d)
                # the reference computation: all users for the user group, batch rows for items
                candidates = targets[:self.n_users] if g == 0 else positives
                loss = info_nce_candidates(anchors[g], positives, candidates, temperature,
                                           chunk_size=self.cfg.chunk_size)
            else:
                # a row's loss depends only on its node (anchor, positive, candidates are the
                # node's): computed once per distinct node, weighted by its count in the group
                first, uniq, counts = distinct_rows(nodes.loc[g])
                cand = nodes.candidates[g]
                inside = torch.isin(uniq, cand)                    # the positive is one of the candidates
                loss = info_nce_shared(gather_rows(anchors[g], first), gather_rows(targets, uniq),
                                       gather_rows(targets, cand), inside, temperature,
                                       weights=counts)
            total = total + loss
        return total

    def _on_device(self, name: str, device: torch.device) -> torch.Tensor:
        tensor = getattr(self, name)
        if tensor.device != device:
            tensor = tensor.to(device)
            setattr(self, name, tensor)
        return tensor

    # ------------------------------------------------------------------ loss
    def kd_term(self, out: BackboneOutput, nodes: BatchNodes) -> torch.Tensor:
        """Unweighted L_kd (scalar)."""
        profile = self._on_device("profile", out.final.device)
        targets = self.profile_proj(self.rows(profile, nodes))                    # (Q, d)
        return self.align(gather_rows(out.final, nodes.groups), targets, nodes, self.cfg.kd_temperature)

    def align_gate(self, users: torch.Tensor, out: BackboneOutput) -> torch.Tensor:
        """w = min(1, (ē / ρ)²), ē the mean norm of e at ``users`` (B,); a detached scalar."""
        return norm_gate(out.final[users], self.cfg.align_gate_norm)

    def warming_up(self) -> bool:
        """Whether the current epoch t is within the warm-up (t ≤ W, W > 0)."""
        return 0 < self.cfg.align_warmup_epochs and self.epoch <= self.cfg.align_warmup_epochs

    def extra_terms(self, batch: dict[str, torch.Tensor], out: BackboneOutput) -> dict[str, torch.Tensor]:
        """The text-side terms of :meth:`text_terms`, each multiplied by w (logged so): during the
        warm-up not computed (zeros, no gradient), otherwise times the gate."""
        self._diagnostics = {}
        if not self.cfg.text_term_names:
            return {}
        if self.warming_up():
            w = out.final.new_zeros(())
            terms = {name: w for name in self.cfg.text_term_names}
        else:
            w = self.align_gate(batch["users"], out)
            terms = {name: w * value for name, value in self.text_terms(batch, out).items()}
        self._diagnostics = {"align_gate": w}
        return terms

    def text_terms(self, batch: dict[str, torch.Tensor], out: BackboneOutput) -> dict[str, torch.Tensor]:
        """Weighted text-side terms at full weight: here ``kd``."""
        if not self.cfg.use_kd:
            return {}
        return {"kd": self.cfg.kd_weight * self.kd_term(out, self.batch_nodes(batch))}
