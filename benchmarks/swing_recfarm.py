"""Adapter to ``recfarm`` (the Rust SWING core of LibRecommender, PyPI ``recfarm``; not a fuserec
dependency), used by ``bench_swing.py`` and a cross-check test.

recfarm's ``Swing(top_k, alpha, max_cache_num, n_users, n_items, user_interactions,
item_interactions, user_consumed, default_pred)`` reads CSR matrices from objects with
``sparse_indices``, ``sparse_indptr`` and ``sparse_data`` list attributes, and
``compute_swing(num_threads)`` computes item-item scores with weight 1/sqrt(|I_u|) and
``1 / (alpha + |I_u ∩ I_v| - 1)`` (recfarm leaves the anchor item out of the overlap, see
LibRecommender rust/src/graph.rs). So recfarm(alpha = a + 1) is the spec's formula with alpha = a.
It keeps every non-zero score per item (sorted by score); the Python API exposes them only through
``save_swing``, whose file is a gzip of bincode: top_k u64, alpha f32, max_cache_num u64,
n_users u64, n_items u64, then the score map (u64 length; per entry an i32 item, a u64 length and
that many (i32 item, f32 score) pairs). :func:`read_scores` decodes exactly that prefix.
"""

from __future__ import annotations

import gzip
import os
import struct
import tempfile
import time

import numpy as np
import scipy.sparse as sp


class _Csr:
    def __init__(self, mat: sp.csr_matrix):
        self.sparse_indices = mat.indices.astype(np.int64).tolist()
        self.sparse_indptr = mat.indptr.astype(np.int64).tolist()
        self.sparse_data = mat.data.astype(np.float64).tolist()


def build(recfarm, user_item: sp.spmatrix, alpha: float, top_k: int = 50):
    """A recfarm Swing model on a binary ``(n_users, n_items)`` matrix; ``alpha`` in the spec's sense."""
    mat = sp.csr_matrix(user_item, dtype=np.float32)
    mat.sum_duplicates()
    mat.data[:] = 1.0
    mat.sort_indices()
    n_users, n_items = mat.shape
    item_user = mat.T.tocsr()
    item_user.sort_indices()
    return recfarm.Swing(top_k, float(alpha) + 1.0, 100_000_000, n_users, n_items, _Csr(mat),
                         _Csr(item_user), {}, 0.0)


def read_scores(recfarm, model, n_items: int) -> sp.csr_matrix:
    """All of the model's scores as an ``(n_items, n_items)`` float64 CSR matrix."""
    with tempfile.TemporaryDirectory() as tmp:
        recfarm.save_swing(model, tmp, "model")
        raw = gzip.open(os.path.join(tmp, "model.gz")).read()
    off = 8 + 4 + 8 + 8 + 8
    (n_map,) = struct.unpack_from("<Q", raw, off)
    off += 8
    rows, cols, vals = [], [], []
    pair = np.dtype([("j", "<i4"), ("s", "<f4")])
    for _ in range(n_map):
        key, n = struct.unpack_from("<iQ", raw, off)
        off += 12
        arr = np.frombuffer(raw, dtype=pair, count=n, offset=off)
        off += 8 * n
        rows.append(np.full(n, key, dtype=np.int64))
        cols.append(arr["j"].astype(np.int64))
        vals.append(arr["s"].astype(np.float64))
    if not rows:
        return sp.csr_matrix((n_items, n_items))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_items, n_items))


def recfarm_scores(recfarm, user_item: sp.spmatrix, alpha: float = 1.0) -> np.ndarray:
    """Dense item-item scores by recfarm (small inputs only; for tests)."""
    model = build(recfarm, user_item, alpha)
    model.compute_swing(1)
    return read_scores(recfarm, model, user_item.shape[1]).toarray()


def timed_compute(recfarm, user_item: sp.spmatrix, alpha: float, threads: int = 1) -> tuple[float, float, object]:
    """(setup seconds, compute seconds, model)."""
    start = time.perf_counter()
    model = build(recfarm, user_item, alpha)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    model.compute_swing(threads)
    return setup, time.perf_counter() - start, model
