"""The normalised bipartite adjacency of LightGCN-style graph models, and propagation through it.

Nodes are users ``0..U-1`` followed by items ``U..U+I-1`` (N = U + I). With R the (U, I) binary
training matrix,

    A = [[0, R], [Rᵀ, 0]]   (N, N),      Â = D^{-1/2} A D^{-1/2},   D = diag(A 1)

(isolated nodes get 0 rows). Â is symmetric, which :func:`propagate` uses: the backward pass of
``Â X`` is ``Â G``, so no transposed copy of the matrix is ever built.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from fuserec.tensor_ops import gather_rows

Layout = Literal["csr", "coo"]


def bipartite_adjacency(train: sp.spmatrix) -> sp.csr_matrix:
    """``A = [[0, R], [Rᵀ, 0]]`` as scipy CSR (N, N) float32 from the (U, I) training matrix."""
    r = sp.csr_matrix(train, dtype=np.float32)
    r.data[:] = 1.0
    n_users, n_items = r.shape
    a = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    a.sum_duplicates()
    a.sort_indices()
    assert a.shape == (n_users + n_items, n_users + n_items)
    return a


def normalize_symmetric(adj: sp.spmatrix) -> sp.csr_matrix:
    """``D^{-1/2} A D^{-1/2}`` (scipy CSR); rows/columns of degree-0 nodes stay zero."""
    adj = sp.csr_matrix(adj, dtype=np.float32)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(degree), 0.0).astype(np.float32)
    d = sp.diags(inv_sqrt)
    out = sp.csr_matrix(d @ adj @ d, dtype=np.float32)
    out.sort_indices()
    return out


def to_torch_sparse(mat: sp.spmatrix, layout: Layout = "csr") -> torch.Tensor:
    """A scipy sparse matrix as a torch sparse tensor (float32) in ``layout`` (``csr`` or ``coo``)."""
    if layout == "csr":
        m = sp.csr_matrix(mat, dtype=np.float32)
        # int32 indices: torch's CPU CSR matmul runs about twice as fast as with int64 (measured).
        with warnings.catch_warnings():           # "sparse CSR support is in beta": we rely on it knowingly
            warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta.*")
            return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int32)),
                                           torch.from_numpy(m.indices.astype(np.int32)),
                                           torch.from_numpy(m.data), size=m.shape, check_invariants=False)
    if layout == "coo":
        m = sp.coo_matrix(mat, dtype=np.float32)
        idx = torch.from_numpy(np.vstack([m.row, m.col]).astype(np.int64))
        return torch.sparse_coo_tensor(idx, torch.from_numpy(m.data), size=m.shape).coalesce()
    raise ValueError(f"unknown sparse layout {layout!r}; allowed: csr, coo")


def normalized_adjacency(train: sp.spmatrix, layout: Layout = "csr") -> torch.Tensor:
    """Â = D^{-1/2} A D^{-1/2} of the training split as a torch sparse tensor (N, N)."""
    return to_torch_sparse(normalize_symmetric(bipartite_adjacency(train)), layout)


class _ConstantSpMM(torch.autograd.Function):
    """``Y = S X`` for a constant sparse S whose transpose Sᵀ is given: the gradient of X is ``Sᵀ dY``."""

    @staticmethod
    def forward(ctx, matrix: torch.Tensor, matrix_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.matrix_t = matrix_t
        return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return None, None, torch.sparse.mm(ctx.matrix_t, grad.contiguous())


def spmm_symmetric(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``matrix @ x`` for a constant *symmetric* sparse ``matrix`` (N, N) and dense ``x`` (N, d).

    Differentiable in ``x``; the backward pass reuses ``matrix`` instead of transposing it (which
    for CSR would cost a conversion per call).
    """
    return _ConstantSpMM.apply(matrix, matrix, x)


def spmm_constant(matrix: torch.Tensor, matrix_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``matrix @ x`` for a constant sparse ``matrix`` (N, N) with its transpose ``matrix_t`` given
    (both CSR); differentiable in ``x`` (N, d), the backward pass being ``matrix_t @ grad``."""
    return _ConstantSpMM.apply(matrix, matrix_t, x)


def propagate(adj: torch.Tensor, x: torch.Tensor, layers: int, symmetric: bool = True,
              adj_t: torch.Tensor | None = None) -> list[torch.Tensor]:
    """``[x, Âx, Â²x, ..., Â^L x]``: L + 1 tensors (N, d).

    ``adj_t`` given: the backward pass multiplies by it (Âᵀ, for a matrix that is not symmetric,
    e.g. after :func:`drop_edges`). Otherwise ``symmetric=True`` (Â is symmetric, as built here)
    uses :func:`spmm_symmetric`, and ``symmetric=False`` ``torch.sparse.mm`` with its own backward.
    """
    out = [x]
    for _ in range(layers):
        if adj_t is not None:
            out.append(spmm_constant(adj, adj_t, out[-1]))
        elif symmetric:
            out.append(spmm_symmetric(adj, out[-1]))
        else:
            out.append(torch.sparse.mm(adj, out[-1]))
    return out


def drop_edges(values: torch.Tensor, keep_rate: float) -> torch.Tensor:
    """Edge dropout on a sparse matrix's values (E,): each entry kept with probability
    ``keep_rate`` and then scaled by 1 / ``keep_rate``, the dropped ones set to 0 (the pattern
    is kept, so no index array is rebuilt). Entries are dropped independently, so the result
    is not symmetric even where the matrix was (its transpose is ``values[pattern.transpose]``)."""
    keep = torch.rand(values.shape, device=values.device) < keep_rate
    return torch.where(keep, values * (1.0 / keep_rate), values.new_zeros(()))


class SparsePattern:
    """The fixed, symmetric sparsity pattern of A with learnable values on its edges.

    Used by the IRLLRec intent tower, whose edge weights depend on the embeddings. Edges are the
    E = nnz(A) = 2·|train| directed entries of A in CSR order.

    Attributes:
        crow, col: int32 CSR index arrays ((N+1,), (E,)).
        heads, tails: (E,) int64 row / column of every edge.
        transpose: (E,) int64 permutation: edge ``transpose[e]`` is the reverse of edge ``e``,
            so a matrix with values ``v`` has transpose values ``v[transpose]`` on the same pattern.
    """

    def __init__(self, adj: sp.spmatrix):
        a = sp.csr_matrix(adj, dtype=np.float32)
        a.sort_indices()
        n = a.shape[0]
        if a.shape[0] != a.shape[1]:
            raise ValueError(f"pattern must be square, got {a.shape}")
        self.n_nodes = n
        self.crow = torch.from_numpy(a.indptr.astype(np.int32))
        self.col = torch.from_numpy(a.indices.astype(np.int32))
        heads = np.repeat(np.arange(n, dtype=np.int64), np.diff(a.indptr))
        tails = a.indices.astype(np.int64)
        self.heads = torch.from_numpy(heads)
        self.tails = torch.from_numpy(tails)
        # position of (t, h) for every edge (h, t): sort edges by (tail, head) = CSR order of Aᵀ.
        order = np.lexsort((heads, tails))          # CSR order of the transpose
        if not (np.array_equal(tails[order], heads) and np.array_equal(heads[order], tails)):
            raise ValueError("pattern is not symmetric")
        self.transpose = torch.from_numpy(order.astype(np.int64))

    @classmethod
    def from_csr_tensor(cls, adj: torch.Tensor) -> "SparsePattern":
        """The pattern of a symmetric torch sparse CSR tensor (N, N) (its values are not kept)."""
        crow = adj.crow_indices().cpu().numpy()
        col = adj.col_indices().cpu().numpy()
        n = adj.shape[0]
        mat = sp.csr_matrix((np.ones(len(col), dtype=np.float32), col, crow), shape=(n, n))
        return cls(mat).to(adj.device)

    def to(self, device: torch.device | str) -> "SparsePattern":
        """This pattern with its index tensors on ``device`` (self if already there)."""
        device = torch.device(device)
        if self.crow.device == device:
            return self
        moved = object.__new__(SparsePattern)
        moved.n_nodes = self.n_nodes
        for name in ("crow", "col", "heads", "tails", "transpose"):
            setattr(moved, name, getattr(self, name).to(device))
        return moved

    @property
    def n_edges(self) -> int:
        return int(self.col.shape[0])

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        """The (N, N) sparse CSR tensor with ``values`` (E,) on the pattern (no autograd)."""
        return torch.sparse_csr_tensor(self.crow, self.col, values, size=(self.n_nodes, self.n_nodes),
                                       check_invariants=False)

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        """The transpose of :meth:`matrix` (same pattern, values permuted; no autograd)."""
        return self.matrix(gather_rows(values, self.transpose))

    @property
    def n_rows(self) -> int:
        return self.n_nodes

    @property
    def edge_rows(self) -> torch.Tensor:
        """(E,) int64 row of every edge (its head)."""
        return self.heads

    def row_sum(self, values: torch.Tensor) -> torch.Tensor:
        """(rows,) sums of ``values`` (E,) per row (differentiable)."""
        return values.new_zeros(self.n_rows).index_add(0, self.edge_rows, values)

    def spmm(self, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``M(values) @ x`` (rows, d), differentiable in ``values`` (E,) and ``x`` (N, d)."""
        return _PatternSpMM.apply(self, values, x)

    def edge_dot(self, x: torch.Tensor) -> torch.Tensor:
        """(E,) ``x_h · x_t`` for every edge (h, t), differentiable in ``x`` (N, d)."""
        return _PatternEdgeDot.apply(self, x)

    def restrict(self, rows: torch.Tensor) -> "RowPattern":
        """The (Q, N) pattern of the distinct node ids ``rows`` (Q,) (:class:`RowPattern`)."""
        return RowPattern(self, rows)


class RowPattern(SparsePattern):
    """The rows ``rows`` (Q,) of a :class:`SparsePattern`: a (Q, N) pattern with E_Q edges, and its
    (N, Q) transpose, for computing a node-wise aggregation at a few rows only (``row_sum`` and
    ``spmm`` as the full pattern's, on the rows).

    Attributes:
        rows: (Q,) int64 node ids (distinct). crow, col: int32 CSR of the (Q, N) pattern.
        local_heads: (E_Q,) int64 row of each edge in ``0..Q-1``; tails: (E_Q,) int64 column.
        crow_t, col_t: int32 CSR of the (N, Q) transpose; perm_t: (E_Q,) int64, transposed
            entry k holds edge ``perm_t[k]``.
    """

    def __init__(self, pattern: SparsePattern, rows: torch.Tensor):  # noqa: D107 - no super(): other fields
        device = pattern.crow.device
        rows = rows.to(device=device, dtype=torch.int64)
        crow = pattern.crow.to(torch.int64)
        starts, degree = crow[rows], crow[rows + 1] - crow[rows]                    # (Q,)
        self.rows, self.n_nodes = rows, pattern.n_nodes
        self.local_heads = torch.repeat_interleave(torch.arange(len(rows), device=device), degree)
        first = torch.cumsum(degree, 0) - degree                                    # (Q,) start in the sub-pattern
        edge_ids = starts[self.local_heads] + torch.arange(len(self.local_heads), device=device) - first[self.local_heads]
        self.tails = pattern.tails[edge_ids]
        self.crow = torch.cat([degree.new_zeros(1), torch.cumsum(degree, 0)]).to(torch.int32)
        self.col = self.tails.to(torch.int32)
        order = torch.sort(self.tails, stable=True).indices                         # CSR order of the transpose
        self.perm_t = order
        self.col_t = self.local_heads[order].to(torch.int32)
        counts = torch.bincount(self.tails, minlength=self.n_nodes)
        self.crow_t = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)]).to(torch.int32)

    @property
    def n_rows(self) -> int:
        return int(self.rows.shape[0])

    @property
    def edge_rows(self) -> torch.Tensor:
        return self.local_heads

    def to(self, device: torch.device | str) -> "RowPattern":
        if self.crow.device != torch.device(device):
            raise ValueError("a RowPattern is built per batch on its pattern's device")
        return self

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        """(Q, N) sparse CSR with ``values`` (E_Q,) (no autograd)."""
        return torch.sparse_csr_tensor(self.crow, self.col, values, size=(self.n_rows, self.n_nodes),
                                       check_invariants=False)

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        """(N, Q) sparse CSR: the transpose of :meth:`matrix` (no autograd)."""
        return torch.sparse_csr_tensor(self.crow_t, self.col_t, gather_rows(values, self.perm_t),
                                       size=(self.n_nodes, self.n_rows), check_invariants=False)

    def edge_dot(self, x: torch.Tensor) -> torch.Tensor:
        """(E_Q,) ``x_h · x_t`` for every edge (h, t) of the rows, differentiable in ``x`` (N, d)."""
        return _RowEdgeDot.apply(self, x)


class _RowEdgeDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pattern, x):  # type: ignore[override]
        ctx.pattern = pattern
        ctx.save_for_backward(x)
        return _sampled(pattern, gather_rows(x, pattern.rows), x.T)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        pattern = ctx.pattern
        (x,) = ctx.saved_tensors
        grad = grad.contiguous()
        # d/dx_t Σ_e g_e x_h·x_t = Σ_{e into t} g_e x_h ;  d/dx_h = Σ_{e out of h} g_e x_t
        d_x = torch.sparse.mm(pattern.matrix_t(grad), gather_rows(x, pattern.rows))
        d_x.index_add_(0, pattern.rows, torch.sparse.mm(pattern.matrix(grad), x))
        return None, d_x


def _sampled(pattern: "SparsePattern | RowPattern", left: torch.Tensor, right_t: torch.Tensor) -> torch.Tensor:
    """(E,) ``(left @ right_t)`` at the pattern's entries (``left`` (rows, d), ``right_t`` (d, N)).

    ``right_t`` is passed as it is: the CPU kernel reads it transposed, so ``x.T`` of a contiguous
    (N, d) ``x`` costs no copy (a ``.contiguous()`` here made one, and the kernel a second).
    """
    zero = pattern.matrix(left.new_zeros(pattern.col.shape[0]))
    return torch.sparse.sampled_addmm(zero, left.contiguous(), right_t, beta=0.0).values()


class _PatternSpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pattern, values, x):  # type: ignore[override]
        ctx.pattern = pattern
        ctx.save_for_backward(values, x)
        return torch.sparse.mm(pattern.matrix(values), x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        pattern = ctx.pattern
        values, x = ctx.saved_tensors
        grad = grad.contiguous()
        d_values = d_x = None
        if ctx.needs_input_grad[1]:
            d_values = _sampled(pattern, grad, x.T)                        # dL/dM_ht = g_h · x_t
        if ctx.needs_input_grad[2]:
            d_x = torch.sparse.mm(pattern.matrix_t(values), grad)               # Mᵀ g
        return None, d_values, d_x


class _PatternEdgeDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pattern, x):  # type: ignore[override]
        ctx.pattern = pattern
        ctx.save_for_backward(x)
        return _sampled(pattern, x, x.T)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        pattern = ctx.pattern
        (x,) = ctx.saved_tensors
        # d/dx_h Σ_e g_e x_h·x_t = Σ_t (g_ht + g_th) x_t
        sym = grad + gather_rows(grad, pattern.transpose)
        return None, torch.sparse.mm(pattern.matrix(sym.contiguous()), x)
