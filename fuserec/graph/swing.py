"""SWING similarity (Yang et al., arXiv 2010.05525; weights as in Flink ML), item-item and user-user.

For item-item, with ``U_i`` the users of item ``i`` and ``I_u`` the items of user ``u``::

    s(i, j) = sum over unordered pairs {u, v} in U_i ∩ U_j, u != v, of
              w(u) w(v) / (alpha + |I_u ∩ I_v|),        w(u) = (|I_u| + alpha1) ** -beta

User-user swaps the roles. Below, the side whose similarities are computed holds the *anchors*
(items for item-item) and the other side the *connectors* (users for item-item).

Algorithm (exact, vectorised, no Python loop per pair):

1. Only connector pairs sharing at least two anchors contribute to some ``s(i, j)`` with ``i != j``.
   Every pair {u, v} that co-occurs on an anchor is enumerated once per shared anchor (a
   *triple* ``(u, v, i)``), in blocks of ``u`` so that memory stays bounded; a stable radix sort
   groups triples by pair, which gives ``c_uv = |I_u ∩ I_v|`` as the group size and the shared
   anchors as the group's members. Pairs with ``c_uv >= 2`` form the rows of a sparse incidence
   matrix ``P`` (pairs × anchors) with pair weights ``K_uv = w(u) w(v) / (alpha + c_uv)``.
2. ``S = Pᵀ diag(K) P`` is a sparse product (scipy SpGEMM), computed for blocks of anchor rows so
   that no dense anchors × anchors matrix is ever formed; the diagonal is dropped and every row is
   cut to its top-k (score > 0, ties broken by lower index) at once, per block.

The work is ``Σ_pairs c_uv²`` multiply-adds, the same as the classic per-item loop.

Bounding (``max_users_per_item`` etc.) is applied to the bipartite graph *before* the formula:
connectors whose degree lies outside ``[min, max]`` are left out, then every anchor with more
connectors than its cap keeps a seeded uniform sample of them. The formula is then evaluated
exactly on that capped graph (degrees in ``w`` and overlaps included). See :func:`cap_graph`.

The sample and the connector weights are computed by :func:`edge_uniforms` and
:func:`connector_weights`, pure functions of (seed, connector, anchor) and of a degree, so that
another engine (:mod:`fuserec.spark.swing`) draws the same sample and the same weights without
seeing the whole graph.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import scipy.sparse as sp

from fuserec.config import check_range
from fuserec.errors import ConfigError, DataError
from fuserec.io import atomic_path, atomic_write_json

log = logging.getLogger("fuserec.graph.swing")

SIDES = {"item": "item", "items": "item", "user": "user", "users": "user"}

#: bump when the algorithm's output would change for the same inputs and parameters
#: (2: the cap's sample is drawn by :func:`edge_uniforms` instead of a sequential generator)
FORMAT_VERSION = 2


@dataclass
class SwingParams:
    """Everything that determines a SWING result.

    side: ``item`` (item-item similarities) or ``user`` (user-user).
    topk: neighbours kept per node (0 keeps every neighbour with a positive score).
    alpha, alpha1, beta: the formula's constants (defaults 1, 0, 0.5; Flink ML uses 0, 15, 0.3).
    max_users_per_item: on the item side, an item with more users keeps a seeded uniform sample
        of this many; on the user side, items with more users are left out. 0 = no limit.
    max_items_per_user: on the item side, users with more items are left out; on the user side,
        a user with more items keeps a seeded uniform sample of this many. 0 = no limit.
    min_items_per_user: item side: users with fewer items are left out.
    min_users_per_item: user side: items with fewer users are left out.
    seed: seed of the uniform sampling under the caps.
    """

    side: Literal["item", "user"] = "item"
    topk: int = 50
    alpha: float = 1.0
    alpha1: float = 0.0
    beta: float = 0.5
    max_users_per_item: int = 1000
    max_items_per_user: int = 1000
    min_items_per_user: int = 1
    min_users_per_item: int = 1
    seed: int = 0

    def validate(self) -> None:
        if self.side not in ("item", "user"):
            raise ConfigError(f"side must be 'item' or 'user', got {self.side!r}", "swing.side")
        check_range(self.topk, "swing.topk", 0)
        for name in ("alpha", "alpha1", "beta"):
            if not np.isfinite(getattr(self, name)):
                raise ConfigError("must be a finite number", f"swing.{name}")
        check_range(self.alpha, "swing.alpha", 0.0)
        check_range(self.alpha1, "swing.alpha1", -1.0, low_inclusive=False)
        check_range(self.beta, "swing.beta", 0.0)
        for name in ("max_users_per_item", "max_items_per_user", "min_items_per_user",
                     "min_users_per_item"):
            check_range(getattr(self, name), f"swing.{name}", 0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SwingResult:
    """Top-k SWING neighbours of every node of one side, as CSR arrays.

    indptr: ``(n_nodes + 1,)`` int64; the neighbours of node ``i`` are
        ``indices[indptr[i]:indptr[i+1]]`` with scores ``scores[...]``, by decreasing score
        (ties: lower index first); every score is > 0.
    indices: ``(nnz,)`` int64 node indices (same side).
    scores: ``(nnz,)`` float64.
    ids: ``(n_nodes,)`` raw ids of the side (str), when known.
    params: the :class:`SwingParams` as a dict, when known.
    from_cache: True when :func:`swing_cached` read this result from disk instead of computing it.
    """

    indptr: np.ndarray
    indices: np.ndarray
    scores: np.ndarray
    ids: np.ndarray | None = None
    params: dict[str, Any] | None = None
    from_cache: bool = field(default=False, compare=False)

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def degrees(self) -> np.ndarray:
        """``(n_nodes,)`` number of kept neighbours of each node."""
        return np.diff(self.indptr)

    def coverage(self) -> float:
        """Share of nodes with at least one neighbour."""
        return float((self.degrees > 0).mean()) if self.n_nodes else 0.0

    def neighbours(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.indptr[node], self.indptr[node + 1]
        return self.indices[lo:hi], self.scores[lo:hi]

    def to_csr(self) -> sp.csr_matrix:
        """``(n_nodes, n_nodes)`` sparse matrix of the kept scores."""
        return sp.csr_matrix((self.scores, self.indices, self.indptr), shape=(self.n_nodes, self.n_nodes))


# ---------------------------------------------------------------------- input preparation
def binarize(matrix: sp.spmatrix) -> sp.csr_matrix:
    """Canonical binary CSR of the positive entries of ``matrix`` (duplicates collapsed to one)."""
    mat = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    mat.sum_duplicates()
    mat.data = (mat.data > 0).astype(np.float64)
    mat.eliminate_zeros()
    mat.sort_indices()
    return mat


def cap_graph(user_item: sp.spmatrix, params: SwingParams) -> sp.csr_matrix:
    """The bipartite graph SWING is evaluated on: ``(n_users, n_items)`` binary CSR.

    Item side: users with fewer than ``min_items_per_user`` or more than ``max_items_per_user``
    items are left out, then every item with more than ``max_users_per_item`` users keeps a
    uniform random sample of them (seeded by ``params.seed``). User side: the same with the roles
    swapped (items filtered by ``min/max_users_per_item``, users sampled to ``max_items_per_user``).
    Degrees are counted on the input; 0 as a maximum means no limit.
    """
    mat = binarize(user_item)
    if params.side == "item":
        conn_anchor = mat  # users x items
        lo, hi, cap = params.min_items_per_user, params.max_items_per_user, params.max_users_per_item
    else:
        conn_anchor = mat.T.tocsr()  # items x users
        lo, hi, cap = params.min_users_per_item, params.max_users_per_item, params.max_items_per_user
    capped = _cap_connector_anchor(conn_anchor, lo, hi, cap, params.seed)
    return capped if params.side == "item" else capped.T.tocsr()


def _cap_connector_anchor(x: sp.csr_matrix, lo: int, hi: int, cap: int, seed: int) -> sp.csr_matrix:
    """Filter connectors (rows) by degree, then sample each anchor's (column's) connectors to ``cap``."""
    deg = np.diff(x.indptr)
    keep_rows = deg >= lo
    if hi > 0:
        keep_rows &= deg <= hi
    if not keep_rows.all():
        x = sp.diags(keep_rows.astype(np.float64)) @ x
        x.eliminate_zeros()
    if cap <= 0:
        return binarize(x)
    csc = x.tocsc()
    csc.sort_indices()
    n_per_anchor = np.diff(csc.indptr)
    if not (n_per_anchor > cap).any():
        return binarize(x)
    # Seeded uniform sample without replacement: a random key per edge, a pure function of
    # (seed, connector, anchor); every anchor keeps its `cap` edges with the smallest
    # (key, connector). CSC order lists an anchor's connectors ascending, and lexsort is stable.
    anchor_of_edge = np.repeat(np.arange(csc.shape[1]), n_per_anchor)
    keys = edge_uniforms(seed, csc.indices, anchor_of_edge)
    order = np.lexsort((keys, anchor_of_edge))
    rank = np.empty(csc.nnz, dtype=np.int64)
    rank[order] = np.arange(csc.nnz) - csc.indptr[anchor_of_edge[order]]
    keep = rank < cap
    rows = csc.indices[keep]
    cols = anchor_of_edge[keep]
    out = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=x.shape)
    return binarize(out)


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (a bijection with full avalanche; wraps mod 2**64)."""
    x = x.copy()
    x ^= x >> np.uint64(30)
    x *= _MIX1
    x ^= x >> np.uint64(27)
    x *= _MIX2
    x ^= x >> np.uint64(31)
    return x


def edge_uniforms(seed: int, conn: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """``(n,)`` float64 in [0, 1): the sampling key of edges ``(conn[k], anchor[k])`` under ``seed``.

    A hash (SplitMix64 chained over seed, connector, anchor), so that any engine evaluating it on
    any subset of the edges, in any order, gets the same keys.
    """
    conn = np.asarray(conn).astype(np.uint64)
    anchor = np.asarray(anchor).astype(np.uint64)
    base = _splitmix64(np.array([int(seed) % (1 << 64)], dtype=np.uint64) + _GOLDEN)
    h = _splitmix64(base ^ conn)
    h = _splitmix64((h + _GOLDEN) ^ anchor)
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def connector_weights(degree: np.ndarray, alpha1: float, beta: float) -> np.ndarray:
    """``(n,)`` float64 SWING weights ``(degree + alpha1) ** -beta``; 0 where the degree is 0."""
    deg = np.asarray(degree, dtype=np.float64)
    w = np.zeros(len(deg))
    nz = deg > 0
    w[nz] = (deg[nz] + alpha1) ** (-beta)
    return w


# ---------------------------------------------------------------------- the core
def _counting_argsort(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Stable argsort of int ``keys`` in ``[0, n_keys)``: one counting sort (scipy's COO -> CSR)."""
    n = len(keys)
    coo = sp.coo_matrix((np.ones(n, dtype=np.int8), (keys, np.arange(n, dtype=np.int64))),
                        shape=(n_keys, max(n, 1)))
    return coo.tocsr().indices.astype(np.int64, copy=False)


def _argsort_rows_then_descending(rows: np.ndarray, vals: np.ndarray, n_rows: int) -> np.ndarray:
    """Stable order by (row, -value) of positive float64 ``vals``: LSD radix sort, 16 bits a pass.

    For positive doubles the bit pattern, read as an unsigned integer, grows with the value, so its
    complement sorts in decreasing value order. Digits that are equal everywhere are skipped.
    Entries equal in row and value keep their input order (stable).
    """
    key = ~np.ascontiguousarray(vals, dtype=np.float64).view(np.uint64)
    order = np.arange(len(vals), dtype=np.int64)
    for shift in (0, 16, 32, 48):
        digit = ((key[order] >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int32)
        if len(digit) and digit.min() == digit.max():
            continue
        order = order[_counting_argsort(digit, 1 << 16)]
    return order[_counting_argsort(rows[order], n_rows)]


def _pair_incidence(x: sp.csr_matrix, w: np.ndarray, alpha: float, block_triples: int
                    ) -> tuple[sp.csr_matrix, np.ndarray]:
    """Pairs of connectors sharing >= 2 anchors.

    Args:
        x: ``(n_conn, n_anchor)`` binary CSR (canonical).
        w: ``(n_conn,)`` connector weights.
    Returns:
        ``P``: ``(n_pairs, n_anchor)`` binary CSR, row p = the anchors shared by pair p;
        ``K``: ``(n_pairs,)`` float64 pair weights ``w_u w_v / (alpha + c_uv)``.

    Triples ``(u, v, i)`` with ``u < v`` both connected to anchor ``i`` are enumerated in
    ``(u, i, v)`` order (blocks of ``u``); one stable counting sort by ``v`` then orders them by
    ``(v, u, i)``, so that every pair is a contiguous run listing its shared anchors in order.
    """
    n_conn, n_anchor = x.shape
    # a: anchors x connectors, with data = position of the same edge in x
    a = sp.csr_matrix((np.arange(x.nnz, dtype=np.int64), x.indices, x.indptr), shape=x.shape).T.tocsr()
    a.sort_indices()
    a_conn = a.indices.astype(np.int64)
    a_anchor = np.repeat(np.arange(n_anchor, dtype=np.int64), np.diff(a.indptr))
    # number of partners after each edge in its anchor's sorted connector list
    a_later = a.indptr[1:].astype(np.int64)[a_anchor] - np.arange(a.nnz, dtype=np.int64) - 1
    x_to_a = np.empty(x.nnz, dtype=np.int64)
    x_to_a[a.data] = np.arange(a.nnz, dtype=np.int64)
    x_later = a_later[x_to_a]  # per edge of x (connector-major)
    x_conn = np.repeat(np.arange(n_conn, dtype=np.int64), np.diff(x.indptr))
    per_conn = np.bincount(x_conn, weights=x_later, minlength=n_conn)
    bounds = _blocks_by_cost(per_conn, block_triples)

    count_parts: list[np.ndarray] = []
    index_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        e_lo, e_hi = int(x.indptr[lo]), int(x.indptr[hi])
        sel = e_lo + np.flatnonzero(x_later[e_lo:e_hi] > 0)
        if len(sel) == 0:
            continue
        cnt = x_later[sel]
        total = int(cnt.sum())
        first = np.repeat(x_to_a[sel], cnt)  # position in a of the (u, i) edge
        start = np.cumsum(cnt) - cnt
        second = first + 1 + (np.arange(total, dtype=np.int64) - np.repeat(start, cnt))
        v = a_conn[second]
        order = _counting_argsort(v, n_conn)  # -> (v, u, i) order
        first = first[order]
        v = v[order]
        u = a_conn[first]
        new_group = np.empty(total, dtype=bool)
        new_group[0] = True
        new_group[1:] = (v[1:] != v[:-1]) | (u[1:] != u[:-1])
        starts = np.flatnonzero(new_group)
        counts = np.diff(np.append(starts, total))
        keep_group = counts >= 2
        if not keep_group.any():
            continue
        keep_triple = np.repeat(keep_group, counts)
        c = counts[keep_group]
        gs = starts[keep_group]
        weight_parts.append(w[u[gs]] * w[v[gs]] / (alpha + c))
        count_parts.append(c)
        index_parts.append(a_anchor[first[keep_triple]])
    if not count_parts:
        return sp.csr_matrix((0, n_anchor)), np.zeros(0)
    counts = np.concatenate(count_parts)
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(index_parts)
    idx_dtype = np.int32 if max(n_anchor, len(indices)) < 2**31 - 1 else np.int64
    p = sp.csr_matrix((np.ones(len(indices)), indices.astype(idx_dtype), indptr.astype(idx_dtype)),
                      shape=(len(counts), n_anchor))
    return p, np.concatenate(weight_parts)


def _blocks_by_cost(cost: np.ndarray, budget: int) -> np.ndarray:
    """Boundaries ``[0, ..., n]`` of consecutive blocks whose summed ``cost`` stays near ``budget``."""
    n = len(cost)
    if n == 0:
        return np.array([0, 0])
    cum = np.cumsum(cost)
    total = float(cum[-1])
    n_blocks = max(1, int(np.ceil(total / max(budget, 1))))
    if n_blocks == 1:
        return np.array([0, n])
    targets = np.arange(1, n_blocks) * (total / n_blocks)
    inner = np.searchsorted(cum, targets, side="left") + 1
    return np.unique(np.concatenate([[0], np.clip(inner, 1, n - 1), [n]]))


def _topk_rows(block: sp.csr_matrix, row_offset: int, topk: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``block`` (rows = anchors ``row_offset...``): drop the diagonal and scores <= 0,
    keep the ``topk`` best (0 = all) by decreasing score, ties by lower column.

    Returns (counts per row, columns, scores), rows in order.
    """
    block = block.tocsr()
    block.sort_indices()  # columns ascending within rows: the stable sorts below keep that for ties
    n_rows = block.shape[0]
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(block.indptr))
    cols = block.indices.astype(np.int64)
    vals = block.data
    ok = (cols != rows + row_offset) & (vals > 0)
    rows, cols, vals = rows[ok], cols[ok], vals[ok]
    order = _argsort_rows_then_descending(rows, vals, n_rows)
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = np.bincount(rows, minlength=n_rows)
    if topk > 0 and len(rows) and counts.max() > topk:
        starts = np.cumsum(counts) - counts
        rank = np.arange(len(rows)) - starts[rows]
        keep = rank < topk
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        counts = np.minimum(counts, topk)
    return counts, cols, vals


def swing_core(conn_anchor: sp.csr_matrix, *, topk: int = 50, alpha: float = 1.0, alpha1: float = 0.0,
               beta: float = 0.5, block_entries: int = 1 << 22, progress: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k SWING among the columns (anchors) of a binary ``(n_conn, n_anchor)`` CSR matrix.

    No caps are applied here (see :func:`cap_graph`). ``block_entries`` bounds the number of
    triples and product multiply-adds handled at once (memory scales with it). The output is
    deterministic for given inputs and ``block_entries``; another block size may change the
    last bits of the sums (summation order), never the formula. Returns ``(indptr, indices, scores)``.
    """
    x = binarize(conn_anchor)
    n_conn, n_anchor = x.shape
    w = connector_weights(np.diff(x.indptr), alpha1, beta)
    p, k = _pair_incidence(x, w, alpha, block_entries)
    counts_out = np.zeros(n_anchor, dtype=np.int64)
    cols_parts: list[np.ndarray] = []
    vals_parts: list[np.ndarray] = []
    if p.shape[0]:
        shared = np.diff(p.indptr).astype(np.float64)
        kp = sp.csr_matrix((np.repeat(k, np.diff(p.indptr)), p.indices, p.indptr), shape=p.shape)
        pt = p.T.tocsr()  # anchors x pairs
        # multiply-adds of anchor row i: sum over pairs containing i of their size
        cost = pt @ shared
        bounds = _blocks_by_cost(cost, block_entries)
        blocks = list(zip(bounds[:-1], bounds[1:]))
        if progress and len(blocks) > 1:
            from tqdm import tqdm

            blocks = tqdm(blocks, desc="swing", unit="block")
        for lo, hi in blocks:
            prod = (pt[lo:hi] @ kp).tocsr()
            cnt, cols, vals = _topk_rows(prod, lo, topk)
            counts_out[lo:hi] = cnt
            cols_parts.append(cols)
            vals_parts.append(vals)
    indptr = np.zeros(n_anchor + 1, dtype=np.int64)
    np.cumsum(counts_out, out=indptr[1:])
    indices = np.concatenate(cols_parts) if cols_parts else np.zeros(0, dtype=np.int64)
    scores = np.concatenate(vals_parts) if vals_parts else np.zeros(0)
    return indptr, indices.astype(np.int64), scores.astype(np.float64)


def swing(user_item: sp.spmatrix, side: str = "item", topk: int = 50, alpha: float = 1.0,
          alpha1: float = 0.0, beta: float = 0.5, max_users_per_item: int = 1000,
          max_items_per_user: int = 1000, min_items_per_user: int = 1, min_users_per_item: int = 1,
          seed: int = 0, *, block_entries: int = 1 << 22, progress: bool = False) -> SwingResult:
    """SWING top-k neighbours from a ``(n_users, n_items)`` interaction matrix.

    ``side="item"`` (or ``"items"``) gives item-item similarities, ``"user"`` user-user. Entries
    > 0 are interactions (duplicates count once). See :class:`SwingParams` for the parameters.
    """
    if side not in SIDES:
        raise ConfigError(f"side must be 'item' or 'user', got {side!r}", "swing.side")
    params = SwingParams(side=SIDES[side], topk=topk, alpha=alpha, alpha1=alpha1, beta=beta,  # type: ignore[arg-type]
                         max_users_per_item=max_users_per_item, max_items_per_user=max_items_per_user,
                         min_items_per_user=min_items_per_user, min_users_per_item=min_users_per_item,
                         seed=seed)
    return swing_from_params(user_item, params, block_entries=block_entries, progress=progress)


def swing_from_params(user_item: sp.spmatrix, params: SwingParams, *, block_entries: int = 1 << 22,
                      progress: bool = False) -> SwingResult:
    params.validate()
    if user_item.ndim != 2:
        raise DataError(f"SWING needs a 2-d users x items matrix, got shape {user_item.shape}")
    graph = cap_graph(user_item, params)
    conn_anchor = graph if params.side == "item" else graph.T.tocsr()
    indptr, indices, scores = swing_core(conn_anchor, topk=params.topk, alpha=params.alpha,
                                         alpha1=params.alpha1, beta=params.beta,
                                         block_entries=block_entries, progress=progress)
    return SwingResult(indptr, indices, scores, params=params.to_dict())


# ---------------------------------------------------------------------- datasets, files, cache
def positive_train_matrix(dataset: Any) -> sp.csr_matrix:
    """``(n_users, n_items)`` binary CSR of the training split's positive interactions.

    The one label rule (:func:`fuserec.data.labels.positives_matrix`): ratings at or above
    the dataset's threshold (2 / 4 by rating scale when it declares none); every interaction of a
    dataset without ratings. DLRREC's own SWING uses the same rule, so both agree.
    """
    from fuserec.data.labels import positives_matrix

    return binarize(positives_matrix(dataset, "train"))


def input_hash(user_item: sp.csr_matrix, ids: np.ndarray | None = None) -> str:
    """SHA-256 of a canonical binary interaction matrix (shape, structure) and the side's ids."""
    mat = binarize(user_item)
    h = hashlib.sha256()
    h.update(np.asarray(mat.shape, dtype=np.int64).tobytes())
    h.update(mat.indptr.astype(np.int64).tobytes())
    h.update(mat.indices.astype(np.int64).tobytes())
    if ids is not None:
        h.update("\x1f".join(map(str, ids)).encode("utf-8"))
    return h.hexdigest()


def sidecar_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def save_result(result: SwingResult, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write ``result`` as ``path`` (.npz: indptr, indices, scores, ids) plus ``path.json``.

    Both writes are atomic; the sidecar records the parameters, ``meta`` (e.g. the input hash)
    and the digest of the .npz so that a sidecar never vouches for another file.
    """
    path = Path(path)
    ids = result.ids if result.ids is not None else np.arange(result.n_nodes).astype(str)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, indptr=result.indptr, indices=result.indices, scores=result.scores,
                     ids=np.asarray([str(i) for i in ids], dtype=str))
    sidecar = {"format_version": FORMAT_VERSION, "params": result.params or {},
               "npz_sha256": _file_digest(path), "n_nodes": result.n_nodes,
               "n_neighbours": int(len(result.indices)), "coverage": result.coverage(),
               **(meta or {})}
    atomic_write_json(sidecar_path(path), sidecar)
    return path


def load_result(path: str | os.PathLike) -> SwingResult:
    """Read a result written by :func:`save_result` (DataError if missing or inconsistent)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("indptr", "indices", "scores", "ids")}
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"not a SWING result file ({exc})", path) from None
    sidecar = read_sidecar(path)
    indptr, indices, scores = arrays["indptr"], arrays["indices"], arrays["scores"]
    if (indptr.ndim != 1 or len(indptr) < 1 or indptr[0] != 0 or indptr[-1] != len(indices)
            or len(indices) != len(scores) or len(arrays["ids"]) != len(indptr) - 1):
        raise DataError("inconsistent SWING arrays (indptr/indices/scores/ids lengths)", path)
    return SwingResult(indptr.astype(np.int64), indices.astype(np.int64), scores.astype(np.float64),
                       ids=arrays["ids"].astype(object), params=(sidecar or {}).get("params"))


def read_sidecar(path: str | os.PathLike) -> dict[str, Any] | None:
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def swing_for_dataset(dataset: Any, params: SwingParams, *, progress: bool = False) -> tuple[SwingResult, str]:
    """Compute SWING on a dataset's positive training interactions; returns (result, input hash)."""
    params.validate()
    mat = positive_train_matrix(dataset)
    ids = dataset.item_ids if params.side == "item" else dataset.user_ids
    digest = input_hash(mat, ids)
    result = swing_from_params(mat, params, progress=progress)
    result.ids = np.asarray(ids, dtype=object)
    return result, digest


def swing_cached(dataset: Any, params: SwingParams, path: str | os.PathLike, *,
                 progress: bool = False,
                 compute: Callable[[sp.csr_matrix, SwingParams], SwingResult] | None = None,
                 engine: str = "single") -> SwingResult:
    """SWING of ``dataset`` under ``params``, read from ``path`` when it was computed from the same
    training interactions (input hash) and parameters; otherwise computed and saved there.

    ``compute(matrix, params)`` replaces the single-machine computation (e.g. Spark's
    :func:`fuserec.spark.swing.swing_spark`, which returns the same lists); ``engine`` is recorded
    in the sidecar. A file written by either engine is reused by both.
    The returned result has ``from_cache=True`` when it was read from disk.
    """
    params.validate()
    path = Path(path)
    mat = positive_train_matrix(dataset)
    ids = dataset.item_ids if params.side == "item" else dataset.user_ids
    digest = input_hash(mat, ids)
    sidecar = read_sidecar(path)
    if (sidecar is not None and path.is_file() and sidecar.get("format_version") == FORMAT_VERSION
            and sidecar.get("input_hash") == digest and sidecar.get("params") == params.to_dict()
            and sidecar.get("npz_sha256") == _file_digest(path)):
        result = load_result(path)
        result.from_cache = True
        log.info("SWING %s-%s read from %s (inputs and parameters unchanged)", dataset.name, params.side, path)
        return result
    result = compute(mat, params) if compute is not None else swing_from_params(mat, params, progress=progress)
    result.ids = np.asarray(ids, dtype=object)
    save_result(result, path, meta={"input_hash": digest, "dataset": dataset.name, "engine": engine})
    return result
