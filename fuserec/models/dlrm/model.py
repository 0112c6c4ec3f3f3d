"""The DLRM recommender shared by ``dlrm``, ``dlrm_raw``, ``two_step`` and ``dlrrec``.

One example (user u, item i) becomes F_s d-vectors and one dense input (see ``blocks.py``):

* the pooled embedding bags of every sparse field of u (``user_id``, ``user.age``, ...) and of i;
* one d-vector per semantic field f (``user_text``, ``item_text``, ...) where the variant reduces
  them: ``R_f(e_f)`` with ``R_f`` a trained :class:`ReductionModule` (``dlrrec``) or a frozen PCA
  (``two_step``);
* the dense input: the standardised numeric fields of u and i, plus, in ``dlrm_raw``, the raw
  semantic vectors; the bottom MLP maps it to d (a constant 1 is fed when there is none).

The dot interaction of the F = F_s + 1 vectors and the top MLP give one logit
(``B × (d + F(F-1)/2)`` into the top MLP, as TorchRec). The training loss is class-weighted
BCE-with-logits, with weights from the training split's class frequencies (``balanced``) or
given explicitly. Vectors are ordered [user sparse fields, user semantic fields, item sparse
fields, item semantic fields] so that the user side and the item side can be computed apart:
scoring every item for a user computes the item side once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from fuserec.config import check_range
from fuserec.data.features import FeatureConfig, gather_bags
from fuserec.errors import ConfigError
from fuserec.models.dlrm.blocks import DenseArch, InteractionArch, OverArch, ReductionModule, SparseArch
from fuserec.prepare.inputs import PreparedInputs
from fuserec.runtime import evaluating, model_device

log = logging.getLogger("fuserec.models.dlrm")

SIDES = ("user", "item")


# ---------------------------------------------------------------------- configuration
@dataclass
class SemanticField:
    """A precomputed semantic vector per user or item.

    name: the field's name (``user_text``, ``item_text``, ``item_image``...).
    side: ``user`` or ``item``.
    source: ``text`` (``fuserec.text.text_embeddings`` of ``kind`` with ``backend``, cached),
        ``metadata`` (the entity's own metadata text embedded as it is: a bio, stated preferences,
        a description; :func:`fuserec.text.direct.entity_text_embeddings`), ``train_reviews`` (the
        entity's own training reviews / tags joined; :func:`fuserec.text.direct.training_review_embeddings`)
        or ``file`` (a vector file read by ``fuserec.text.importing.import_vectors``: ``path``,
        optional ``ids_path``, ``missing`` policy for entities without a vector).
    """

    name: str = "item_text"
    side: Literal["user", "item"] = "item"
    source: Literal["text", "metadata", "train_reviews", "file"] = "text"
    kind: str = "profile"
    backend: str = "template"
    path: str | None = None
    ids_path: str | None = None
    missing: Literal["error", "zero", "mean"] = "error"

    def validate(self) -> None:
        if self.source == "file" and not self.path:
            raise ConfigError("a semantic field with source 'file' needs a path", f"model.semantic.{self.name}")


def _default_semantic() -> list[SemanticField]:
    return [SemanticField("user_text", "user"), SemanticField("item_text", "item")]


@dataclass
class DLRMConfig:
    """The DLRM backbone and its training loss.

    dim: embedding dimension d (every sparse field, every reduced semantic field, bottom output).
    bottom: hidden sizes of the bottom MLP (its output layer, of size ``dim``, is added).
    top: sizes of the top MLP; must end in 1 (one logit).
    dropout: dropout after hidden layers of both MLPs.
    pooling: pooling of multi-valued bags (``sum`` or ``mean``).
    sparse_grad: sparse embedding gradients (only with an optimiser that takes them, e.g. adagrad
        without weight decay).
    class_weight: ``balanced`` (w_c = N / (2 N_c) from the training split), ``none``, or
        ``explicit`` (``pos_weight`` / ``neg_weight``).
    score_budget_mb: memory budget of one chunk when scoring every item for a batch of users.
    features: which side fields become inputs and the label threshold.
    seed: seed of everything the model draws itself (PCA is exact; SWING caps; samples).
    text_control: ``none``, ``shuffled`` or ``random``: applied to the semantic vectors when they
        are prepared (:func:`fuserec.text.controls.apply_text_control`, seeded by ``seed``).
    """

    dim: int = 32
    bottom: list[int] = field(default_factory=lambda: [64])
    top: list[int] = field(default_factory=lambda: [128, 64, 1])
    dropout: float = 0.1
    pooling: Literal["sum", "mean"] = "mean"
    sparse_grad: bool = False
    class_weight: Literal["balanced", "none", "explicit"] = "balanced"
    pos_weight: float = 1.0
    neg_weight: float = 1.0
    score_budget_mb: int = 64
    features: FeatureConfig = field(default_factory=FeatureConfig)
    seed: int = 0
    text_control: Literal["none", "shuffled", "random"] = "none"

    def validate(self) -> None:
        check_range(self.dim, "model.dim", 1)
        for k, size in enumerate(self.bottom):
            check_range(size, f"model.bottom[{k}]", 1)
        if not self.top or self.top[-1] != 1:
            raise ConfigError(f"the top MLP must end in one unit (one logit), got {self.top}", "model.top")
        for k, size in enumerate(self.top):
            check_range(size, f"model.top[{k}]", 1)
        check_range(self.dropout, "model.dropout", 0.0, 1.0, high_inclusive=False)
        check_range(self.pos_weight, "model.pos_weight", 0.0, low_inclusive=False)
        check_range(self.neg_weight, "model.neg_weight", 0.0, low_inclusive=False)
        check_range(self.score_budget_mb, "model.score_budget_mb", 1)


@dataclass
class SemanticDLRMConfig(DLRMConfig):
    """A DLRM with semantic fields.

    semantic: the semantic fields (default ``user_text`` and ``item_text`` from the text pipeline).
    text_control: ``none``, ``shuffled`` or ``random`` (:mod:`fuserec.text.controls`, seeded by
        ``seed``): the controls that keep the input's distribution and remove its knowledge.
    """

    semantic: list[SemanticField] = field(default_factory=_default_semantic)
    text_control: Literal["none", "shuffled", "random"] = "none"

    def validate(self) -> None:
        super().validate()
        names = [f.name for f in self.semantic]
        if len(set(names)) != len(names):
            raise ConfigError(f"semantic field names must be unique, got {names}", "model.semantic")


@dataclass
class ReducedDLRMConfig(SemanticDLRMConfig):
    """A DLRM whose semantic fields are reduced to d by trained modules.

    reduction / reduction_hidden / reduction_dropout: the reduction module of each field
        (``mlp``: LayerNorm → Linear(D, h) → GELU → Dropout → Linear(h, d); ``linear``: Linear(D, d)).
    """

    reduction: Literal["mlp", "linear"] = "mlp"
    reduction_hidden: int = 128
    reduction_dropout: float = 0.1

    def validate(self) -> None:
        super().validate()
        check_range(self.reduction_hidden, "model.reduction_hidden", 1)
        check_range(self.reduction_dropout, "model.reduction_dropout", 0.0, 1.0, high_inclusive=False)


# ---------------------------------------------------------------------- inputs held by the model
class SideInputs(nn.Module):
    """The per-entity inputs of one side, as buffers that follow the model's device.

    ``bag(k, entities)`` gives ``(values, offsets)`` of sparse field k; ``dense(entities)`` the
    (n, n_dense_side) standardised numbers; ``semantic(k, entities)`` (n, D_k) raw vectors.
    """

    def __init__(self, bags: list[tuple[torch.Tensor, torch.Tensor]], dense: torch.Tensor,
                 semantic: list[torch.Tensor]):
        super().__init__()
        self.n_bags, self.n_semantic = len(bags), len(semantic)
        # Fields with exactly one token per entity (ids, token fields) gather without the CSR walk.
        self.single = [bool((indptr[1:] - indptr[:-1] == 1).all()) for indptr, _ in bags]
        for k, (indptr, values) in enumerate(bags):
            self.register_buffer(f"indptr{k}", indptr, persistent=False)
            self.register_buffer(f"values{k}", values, persistent=False)
        self.register_buffer("dense_table", dense, persistent=False)
        for k, vectors in enumerate(semantic):
            self.register_buffer(f"semantic{k}", vectors, persistent=False)

    def bag(self, k: int, entities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.single[k]:
            return getattr(self, f"values{k}")[entities], torch.arange(len(entities), device=entities.device)
        return gather_bags(getattr(self, f"indptr{k}"), getattr(self, f"values{k}"), entities)

    def bags(self, entities: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [self.bag(k, entities) for k in range(self.n_bags)]

    def dense(self, entities: torch.Tensor) -> torch.Tensor:
        return self.dense_table[entities]

    def semantic(self, k: int, entities: torch.Tensor | None = None) -> torch.Tensor:
        table = getattr(self, f"semantic{k}")
        return table if entities is None else table[entities]


def _class_weights(class_counts: tuple[int, int], cfg: DLRMConfig) -> torch.Tensor:
    """(2,) weights of the negative and the positive class from the training (negatives, positives)."""
    if cfg.class_weight == "none":
        return torch.ones(2)
    if cfg.class_weight == "explicit":
        return torch.tensor([cfg.neg_weight, cfg.pos_weight], dtype=torch.float32)
    neg, pos = (int(c) for c in class_counts)
    total = neg + pos
    return torch.tensor([total / (2 * neg) if neg else 1.0, total / (2 * pos) if pos else 1.0],
                        dtype=torch.float32)


# ---------------------------------------------------------------------- the model
class DLRMRecommender(nn.Module):
    """DLRM over a dataset's fields; subclasses choose how semantic fields enter.

    ``semantic_mode``: ``none`` (no semantic field), ``raw`` (raw vectors into the bottom MLP),
    ``pca`` (frozen PCA to d, fitted on training entities) or ``reduce`` (trained reduction).

    Args:
        inputs: prepared inputs holding the feature tables and schema (``features/...``, meta
            ``threshold``, ``class_counts``, ``sparse_fields``, ``dense_fields``) and, for
            semantic variants, ``semantic/<field>`` (n_side, D_f) vectors (see
            :mod:`fuserec.prepare.inputs`).
        cfg: the model's config.
    """

    task = "pointwise"
    trainable = True
    semantic_mode: str = "none"
    needs: tuple[str, ...] = ("features",)
    Config = DLRMConfig

    def __init__(self, inputs: PreparedInputs, cfg: DLRMConfig | None = None):
        super().__init__()
        cfg = cfg if cfg is not None else self.Config()
        self.cfg = cfg
        self.dataset_name = inputs.meta.get("dataset")
        self.n_users, self.n_items = inputs.n_users, inputs.n_items
        self.threshold = float(inputs.meta["threshold"])
        d = cfg.dim

        fields = getattr(cfg, "semantic", []) if self.semantic_mode != "none" else []
        self.semantic_fields: list[SemanticField] = list(fields)
        vectors = {f.name: inputs.tensor(f"semantic/{f.name}") for f in self.semantic_fields}

        sparse_fields = [(key, side, int(n)) for key, side, n, _ in inputs.meta["sparse_fields"]]
        self.sparse_keys = {s: [key for key, side, _ in sparse_fields if side == s] for s in SIDES}
        self.semantic_names = {s: [f.name for f in self.semantic_fields if f.side == s] for s in SIDES}
        self.inputs = nn.ModuleDict({
            s: SideInputs([(inputs.tensor(f"features/{s}/{k}/indptr"), inputs.tensor(f"features/{s}/{k}/values"))
                           for k in self.sparse_keys[s]], inputs.tensor(f"features/{s}/dense"),
                          [vectors[n] for n in self.semantic_names[s]]) for s in SIDES})
        self.sparse = nn.ModuleDict({
            s: SparseArch([n for _, side, n in sparse_fields if side == s], d, cfg.pooling, cfg.sparse_grad)
            for s in SIDES})

        # Semantic fields: reduced to d (pca / reduce) or fed raw into the bottom MLP (raw).
        self.reducers = nn.ModuleDict()
        n_raw = 0
        if self.semantic_mode in ("reduce", "pca"):
            for f in self.semantic_fields:
                self.reducers[f.name] = self._make_reducer(f, vectors[f.name], inputs)
        elif self.semantic_mode == "raw":
            n_raw = sum(int(vectors[f.name].shape[1]) for f in self.semantic_fields)
        self.n_dense_in = len(inputs.meta["dense_fields"]) + n_raw
        self.dense_arch = DenseArch(max(self.n_dense_in, 1), list(cfg.bottom) + [d], cfg.dropout)
        n_vectors = sum(len(self.sparse_keys[s]) + (len(self.semantic_names[s]) if self.reducers else 0)
                        for s in SIDES)
        if n_vectors == 0:
            raise ConfigError("the model has no sparse or semantic field", "model.features")
        self.interaction = InteractionArch(n_vectors)
        self.over_arch = OverArch(d + self.interaction.output_pairs, list(cfg.top), cfg.dropout)
        self.register_buffer("class_weights", _class_weights(inputs.meta["class_counts"], cfg), persistent=False)

    # ------------------------------------------------------------------ construction helpers
    def _make_reducer(self, spec: SemanticField, vectors: torch.Tensor, inputs: PreparedInputs) -> nn.Module:
        """The trained reduction module R_f of a semantic field ((n, D_f) → (n, d))."""
        cfg = self.cfg
        return ReductionModule(vectors.shape[1], cfg.dim, cfg.reduction_hidden, cfg.reduction_dropout,
                               cfg.reduction)

    # ------------------------------------------------------------------ forward pieces
    def reduced(self, side: str, name: str, entities: torch.Tensor | None = None) -> torch.Tensor:
        """R_f(e_f) of semantic field ``name`` for ``entities`` (n,) or all: (n, d)."""
        k = self.semantic_names[side].index(name)
        return self.reducers[name](self.inputs[side].semantic(k, entities))

    def side_vectors(self, side: str, entities: torch.Tensor) -> torch.Tensor:
        """The side's d-vectors of ``entities`` (n,): (n, F_side, d) — bags, then reduced semantics."""
        parts = []
        if self.sparse_keys[side]:
            parts.append(self.sparse[side](self.inputs[side].bags(entities)))
        if self.reducers:
            for name in self.semantic_names[side]:
                parts.append(self.reduced(side, name, entities).unsqueeze(1))
        if not parts:
            return torch.zeros(len(entities), 0, self.cfg.dim, device=entities.device)
        return torch.cat(parts, dim=1)

    def side_dense(self, side: str, entities: torch.Tensor) -> torch.Tensor:
        """The side's part of the dense input: (n, n_dense_side [+ Σ D_f in raw mode])."""
        inputs = self.inputs[side]
        parts = [inputs.dense(entities)]
        if self.semantic_mode == "raw":
            parts += [inputs.semantic(k, entities) for k in range(inputs.n_semantic)]
        return torch.cat(parts, dim=1)

    def combine(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor, dense_in: torch.Tensor
                ) -> torch.Tensor:
        """Logits (B,) from (B, F_u, d), (B, F_i, d) and the dense input (B, n_dense_in)."""
        if dense_in.shape[1] == 0:
            dense_in = torch.ones(dense_in.shape[0], 1, device=dense_in.device, dtype=user_vectors.dtype)
        bottom = self.dense_arch(dense_in)                                   # (B, d)
        vectors = torch.cat([user_vectors, item_vectors], dim=1)             # (B, F_s, d)
        return self.over_arch(self.interaction(bottom, vectors))             # (B,)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of the pairs (users[b], items[b])."""
        dense_in = torch.cat([self.side_dense("user", users), self.side_dense("item", items)], dim=1)
        return self.combine(self.side_vectors("user", users), self.side_vectors("item", items), dense_in)

    # ------------------------------------------------------------------ the contract
    def bce(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Class-weighted BCE-with-logits, mean over the batch."""
        weights = self.class_weights[labels.long()]
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), weight=weights)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``batch``: ``users``, ``items`` (B,) int64 and ``labels`` (B,) float. Returns loss, bce."""
        bce = self.bce(self(batch["users"], batch["items"]), batch["labels"])
        return {"loss": bce, "bce": bce}

    def score(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Logits: (B,) for the pairs (users[b], items[b]), or (B, n_items) for every item."""
        if items is not None:
            return self(users, items)
        device = users.device
        all_items = torch.arange(self.n_items, device=device)
        item_vectors = self.side_vectors("item", all_items)                  # (I, F_i, d)
        item_dense = self.side_dense("item", all_items)                      # (I, n_i)
        user_vectors = self.side_vectors("user", users)                      # (B, F_u, d)
        user_dense = self.side_dense("user", users)                          # (B, n_u)
        n_f = user_vectors.shape[1] + item_vectors.shape[1]
        row_bytes = 4 * (2 * n_f * self.cfg.dim + self.n_dense_in + n_f * n_f
                         + max(list(self.cfg.bottom) + list(self.cfg.top)) * 2)
        per_chunk = max(1, (self.cfg.score_budget_mb << 20) // (row_bytes * self.n_items))
        out = []
        for start in range(0, len(users), per_chunk):
            uv, ud = user_vectors[start:start + per_chunk], user_dense[start:start + per_chunk]
            b = uv.shape[0]
            pairs_u = uv.unsqueeze(1).expand(b, self.n_items, *uv.shape[1:]).reshape(-1, *uv.shape[1:])
            pairs_i = item_vectors.unsqueeze(0).expand(b, *item_vectors.shape).reshape(-1, *item_vectors.shape[1:])
            dense = torch.cat([ud.unsqueeze(1).expand(b, self.n_items, ud.shape[1]),
                               item_dense.unsqueeze(0).expand(b, *item_dense.shape)], dim=2).reshape(b * self.n_items, -1)
            out.append(self.combine(pairs_u, pairs_i, dense).view(b, self.n_items))
        return torch.cat(out) if out else torch.zeros(0, self.n_items, device=device)

    def embeddings(self) -> dict[str, torch.Tensor]:
        """``user`` / ``item``: id embeddings (n, d) when ids are fields; ``<field>``: reduced
        semantic vectors (n, d) of every reduced semantic field."""
        out: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for side in SIDES:
                key = f"{side}_id"
                if key in self.sparse_keys[side]:
                    table = self.sparse[side].table(self.sparse_keys[side].index(key))
                    out[side] = table[1:].detach().clone()
                if self.reducers:
                    for name in self.semantic_names[side]:
                        out[name] = self.reduced(side, name).detach().clone()
        return out

    # ------------------------------------------------------------------ collapse watch
    def contrast_vectors(self, side: str, entities: torch.Tensor | None = None) -> torch.Tensor | None:
        """z = normalize(Σ_f R_f(e_f)) over the side's reduced semantic fields; None without any."""
        if not self.reducers or not self.semantic_names[side]:
            return None
        total = sum(self.reduced(side, name, entities) for name in self.semantic_names[side])
        return F.normalize(total, dim=-1)

    def collapse_stats(self, n_sample: int = 1024) -> dict[str, float]:
        """Mean pairwise cosine of z over a fixed sample of (at most ``n_sample``) users and items:
        ``z_cos_user``, ``z_cos_item`` (near 1 = collapse). Empty for models without reduced fields."""
        out = {}
        with evaluating(self):
            for side, n in (("user", self.n_users), ("item", self.n_items)):
                gen = torch.Generator().manual_seed(self.cfg.seed)
                sample = torch.randperm(n, generator=gen)[:n_sample]
                device = model_device(self)
                z = self.contrast_vectors(side, sample.to(device))
                if z is None or len(z) < 2:
                    continue
                m = len(z)
                total = z.sum(0)
                out[f"z_cos_{side}"] = float(((total @ total) - (z * z).sum()) / (m * (m - 1)))
        return out
