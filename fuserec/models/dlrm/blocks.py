"""The DLRM building blocks, laid out as TorchRec's ``torchrec/models/dlrm.py``.

Shapes: B = batch size, d = embedding dimension, F_s = number of sparse (embedding) feature
vectors, F = F_s + 1 (the bottom-MLP output included), D = input width of a semantic field.

* :class:`SparseArch`: one :class:`torch.nn.EmbeddingBag` per sparse field → (B, F_s, d);
  optionally with the tables' optimiser fused into its backward (:class:`FusedRowOptimizer`).
* :class:`DenseArch`: the bottom MLP, dense features (B, n_dense) → (B, d).
* :class:`InteractionArch`: pairwise dot products of the F vectors (strict upper triangle,
  F(F-1)/2 values) concatenated after the dense vector → (B, d + F(F-1)/2).
* :class:`OverArch`: the top MLP → one logit per example (B,).
* :class:`ReductionModule`: a semantic field's vector (B, D) → (B, d).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn


def mlp(in_features: int, layer_sizes: Sequence[int], dropout: float = 0.0, last_activation: bool = True
        ) -> nn.Sequential:
    """Linear → ReLU (→ Dropout) per layer; the last layer without ReLU/Dropout unless ``last_activation``."""
    layers: list[nn.Module] = []
    width = in_features
    for k, size in enumerate(layer_sizes):
        layers.append(nn.Linear(width, size))
        last = k == len(layer_sizes) - 1
        if not last or last_activation:
            layers.append(nn.ReLU())
            if dropout > 0 and not last:
                layers.append(nn.Dropout(dropout))
        width = size
    return nn.Sequential(*layers)


class FusedRowOptimizer(nn.Module):
    """The optimiser of embedding tables, applied inside the backward pass to the touched rows only
    (TorchRec/fbgemm's "fused" tables): no gradient tensor, dense or sparse, is ever materialised
    for the table, and the outer optimiser never sees it (its ``.grad`` stays None).

    ``adagrad``: ``G[r] += g_r²; W[r] -= lr · g_r / (sqrt(G[r]) + eps)`` (``torch.optim.Adagrad``
    with lr_decay = weight_decay = 0 and a zero initial accumulator, which is what it computes for
    a sparse gradient); ``sgd``: ``W[r] -= lr · g_r``. g_r is the row's summed gradient over the
    batch. The accumulator G (rows, d) is a buffer (saved in the state dict).
    """

    def __init__(self, rows: int, dim: int, kind: Literal["adagrad", "sgd"] = "adagrad", lr: float = 0.01,
                 eps: float = 1e-10):
        super().__init__()
        if kind not in ("adagrad", "sgd"):
            raise ValueError(f"unknown fused optimiser {kind!r}; allowed: adagrad, sgd")
        self.kind, self.lr, self.eps = kind, float(lr), float(eps)
        self.register_buffer("state_sum", torch.zeros(rows, dim) if kind == "adagrad" else torch.zeros(0))

    @torch.no_grad()
    def step_rows(self, weight: torch.Tensor, rows: torch.Tensor, grad: torch.Tensor) -> None:
        """Update ``weight`` (R, d) in place at distinct ``rows`` (U,) with their gradients (U, d)."""
        # rows are distinct: gather, update, scatter back (index_copy_ is ~2× faster than index_add_
        # into a large table, measured)
        w = weight.index_select(0, rows)                                           # (U, d)
        if self.kind == "sgd":
            weight.index_copy_(0, rows, w.sub_(grad, alpha=self.lr))
            return
        acc = self.state_sum.index_select(0, rows).addcmul_(grad, grad)          # (U, d)
        self.state_sum.index_copy_(0, rows, acc)
        weight.index_copy_(0, rows, w.addcdiv_(grad, acc.sqrt_().add_(self.eps), value=-self.lr))


class _FusedEmbeddingBag(torch.autograd.Function):
    """Pooled bag lookup whose backward updates the touched rows through a :class:`FusedRowOptimizer`."""

    @staticmethod
    def forward(ctx, weight, values, offsets, mode, optimizer):  # type: ignore[override]
        ctx.save_for_backward(values, offsets)
        ctx.mode, ctx.optimizer, ctx.weight = mode, optimizer, weight
        return nn.functional.embedding_bag(values, weight, offsets, mode=mode)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        values, offsets = ctx.saved_tensors
        n_bags = offsets.shape[0]
        lengths = torch.diff(offsets, append=offsets.new_tensor([values.shape[0]]))
        if values.shape[0] == n_bags and bool((lengths == 1).all()):
            entry_grad = grad                                               # one id per bag: no gather
        else:
            bag = torch.repeat_interleave(torch.arange(n_bags, device=grad.device), lengths)
            entry_grad = grad.index_select(0, bag)                          # (nnz, d)
            if ctx.mode == "mean":
                entry_grad = entry_grad / lengths.index_select(0, bag).clamp_min(1).unsqueeze(1).to(grad.dtype)
        rows, inverse = torch.unique(values, return_inverse=True)
        row_grad = grad.new_zeros(rows.shape[0], grad.shape[1]).index_add_(0, inverse, entry_grad)
        ctx.optimizer.step_rows(ctx.weight, rows, row_grad)
        return None, None, None, None, None


class SparseArch(nn.Module):
    """One embedding table per sparse field, pooled per example.

    The tables are laid end to end in one :class:`torch.nn.EmbeddingBag` (as fbgemm's
    table-batched embeddings do): field k owns rows ``row_offsets[k] : row_offsets[k] + n_k``, so a
    forward is one bag lookup over all fields and, with ``sparse=True``, the backward is one
    sparse gradient (one optimiser update for every table) instead of one per field.

    Args:
        num_embeddings: rows of each field's table (in field order).
        dim: embedding dimension d (shared by all tables, as the dot interaction needs).
        pooling: ``sum`` or ``mean`` of a multi-valued bag.
        sparse: produce sparse gradients (for ``torch.optim.SparseAdam`` / ``Adagrad``).
        init_scale: uniform init bound; default TorchRec's ``sqrt(1/n_k)`` per table (at least 0.01).
        fused_optimizer: ``adagrad`` or ``sgd`` (learning rate ``fused_lr``): the tables are
            updated inside the backward pass on the touched rows (:class:`FusedRowOptimizer`);
            leave them out of the outer optimiser (their ``.grad`` stays None, so one that holds
            them skips them). Every training forward pass then updates the rows it looked up,
            once per backward.

    Forward: ``features`` is a list of ``(values (nnz_f,), offsets (B,))`` pairs, one per field,
    in the order of ``num_embeddings`` (values index the field's own table); returns (B, F_s, d).
    """

    def __init__(self, num_embeddings: Sequence[int], dim: int, pooling: Literal["sum", "mean"] = "sum",
                 sparse: bool = False, init_scale: float | None = None,
                 fused_optimizer: Literal["adagrad", "sgd"] | None = None, fused_lr: float = 0.01):
        super().__init__()
        self.dim = dim
        self.pooling = pooling
        self.num_embeddings = [int(n) for n in num_embeddings]
        starts = [0]
        for n in self.num_embeddings:
            starts.append(starts[-1] + n)
        self.register_buffer("row_offsets", torch.tensor(starts[:-1], dtype=torch.int64), persistent=False)
        self.bag = nn.EmbeddingBag(max(starts[-1], 1), dim, mode=pooling, sparse=sparse)
        with torch.no_grad():
            for k, n in enumerate(self.num_embeddings):
                # TorchRec's default: uniform(-sqrt(1/n), sqrt(1/n)); a floor keeps tiny tables from being ~0.
                bound = init_scale if init_scale is not None else max((1.0 / n) ** 0.5, 0.01)
                self.table(k).uniform_(-bound, bound)
        self.fused = (FusedRowOptimizer(self.bag.weight.shape[0], dim, fused_optimizer, fused_lr)
                      if fused_optimizer is not None else None)

    @property
    def num_features(self) -> int:
        return len(self.num_embeddings)

    def table(self, k: int) -> torch.Tensor:
        """The (n_k, d) rows of field k (a view of the shared weight)."""
        start = sum(self.num_embeddings[:k])
        return self.bag.weight[start:start + self.num_embeddings[k]]

    def lookup(self, k: int, values: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Pooled bags of field k alone: (B, d)."""
        return self.bag(values + self.row_offsets[k], offsets)

    def forward(self, features: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        if len(features) != self.num_features:
            raise ValueError(f"expected {self.num_features} sparse fields, got {len(features)}")
        batch = features[0][1].shape[0]
        values, offsets, base = [], [], 0
        for k, (vals, offs) in enumerate(features):
            values.append(vals + self.row_offsets[k])
            offsets.append(offs + base)
            base += vals.shape[0]
        values, offsets = torch.cat(values), torch.cat(offsets)
        if self.fused is not None and torch.is_grad_enabled() and self.bag.weight.requires_grad:
            pooled = _FusedEmbeddingBag.apply(self.bag.weight, values, offsets, self.pooling, self.fused)
        else:
            pooled = self.bag(values, offsets)                              # (F_s * B, d), field-major
        return pooled.view(self.num_features, batch, self.dim).transpose(0, 1)   # (B, F_s, d)


class DenseArch(nn.Module):
    """The bottom MLP: (B, in_features) → (B, layer_sizes[-1]); ReLU after every layer (as TorchRec)."""

    def __init__(self, in_features: int, layer_sizes: Sequence[int], dropout: float = 0.0):
        super().__init__()
        self.model = mlp(in_features, layer_sizes, dropout, last_activation=True)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model(features)


class InteractionArch(nn.Module):
    """Dot interaction of the dense vector and the F_s sparse vectors (TorchRec's layout).

    Forward: ``dense`` (B, d), ``sparse`` (B, F_s, d) → (B, d + F(F-1)/2), F = F_s + 1: the dense
    vector followed by ``<v_a, v_b>`` for every a < b in the stacked order [dense, sparse_1, ...]
    (row-major over the strict upper triangle).
    """

    def __init__(self, num_sparse_features: int):
        super().__init__()
        self.num_sparse_features = num_sparse_features
        f = num_sparse_features + 1
        rows, cols = torch.triu_indices(f, f, offset=1)
        # flat positions in the (F, F) Gram matrix: index_select's backward is a cheap index_add
        self.register_buffer("triu_flat", rows * f + cols, persistent=False)

    @property
    def output_pairs(self) -> int:
        f = self.num_sparse_features + 1
        return f * (f - 1) // 2

    def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        if sparse.shape[1] != self.num_sparse_features:
            raise ValueError(f"expected {self.num_sparse_features} sparse vectors, got {sparse.shape[1]}")
        if self.num_sparse_features <= 0:
            return dense
        combined = torch.cat([dense.unsqueeze(1), sparse], dim=1)           # (B, F, d)
        gram = torch.bmm(combined, combined.transpose(1, 2))                 # (B, F, F)
        pairs = gram.flatten(1).index_select(1, self.triu_flat)              # (B, F(F-1)/2)
        return torch.cat([dense, pairs], dim=1)


class OverArch(nn.Module):
    """The top MLP: (B, in_features) → logits (B,) (``layer_sizes[-1]`` must be 1; no sigmoid)."""

    def __init__(self, in_features: int, layer_sizes: Sequence[int], dropout: float = 0.0):
        super().__init__()
        if not layer_sizes or layer_sizes[-1] != 1:
            raise ValueError(f"the top MLP must end in one unit, got {list(layer_sizes)}")
        self.model = mlp(in_features, layer_sizes, dropout, last_activation=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model(features).squeeze(-1)


class ReductionModule(nn.Module):
    """Reduce a semantic vector (B, D) to (B, d).

    ``mlp`` (default): LayerNorm(D) → Linear(D, h) → GELU → Dropout(p) → Linear(h, d).
    ``linear``: Linear(D, d).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, dropout: float = 0.1,
                 kind: Literal["mlp", "linear"] = "mlp"):
        super().__init__()
        self.in_dim, self.out_dim, self.kind = in_dim, out_dim, kind
        if kind == "mlp":
            self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(),
                                     nn.Dropout(dropout), nn.Linear(hidden, out_dim))
        elif kind == "linear":
            self.net = nn.Sequential(nn.Linear(in_dim, out_dim))
        else:
            raise ValueError(f"unknown reduction kind {kind!r}; allowed: mlp, linear")

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.net(vectors)


class FrozenProjection(nn.Module):
    """A fixed affine map ``(x - mean) @ components`` (B, D) → (B, d), e.g. a fitted PCA.

    Both are buffers (saved in the state_dict, never trained).
    """

    def __init__(self, mean: torch.Tensor, components: torch.Tensor):
        super().__init__()
        self.in_dim, self.out_dim = components.shape
        self.register_buffer("mean", mean.detach().clone().float())
        self.register_buffer("components", components.detach().clone().float())

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return (vectors - self.mean) @ self.components


def fit_pca(vectors: torch.Tensor, dim: int, whiten: bool = False) -> FrozenProjection:
    """PCA of ``vectors`` (N, D) to ``dim`` components (exact SVD, deterministic signs).

    Component signs follow scikit-learn's ``svd_flip``: the largest-magnitude loading of each
    component is positive. ``whiten`` divides each component by its standard deviation.
    """
    x = vectors.double()
    n, width = x.shape
    if dim > min(n, width):
        raise ValueError(f"cannot keep {dim} PCA components of {n} vectors of width {width}")
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    comps = vh[:dim]                                                   # (dim, D)
    signs = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True))).squeeze(1)
    signs[signs == 0] = 1.0
    comps = comps * signs[:, None]
    if whiten:
        std = s[:dim] / max(n - 1, 1) ** 0.5
        comps = comps / std.clamp_min(1e-12)[:, None]
    return FrozenProjection(mean, comps.T.contiguous())
