"""Full-ranking top-K evaluation (see shared/spec/evaluation.md, "Ranking").

For every user with at least one item in the *target* split, every item is scored, the user's
training items (and, optionally, the items of an ``exclude`` matrix such as the validation split
at test time) are masked to ``-inf``, and the top ``max(ks)`` items are compared with the target
set. Metrics, with ``T_u`` the user's target items and ``hits`` the target items in the top K:

* ``recall@K``    = |hits| / |T_u|
* ``precision@K`` = |hits| / K
* ``hit@K``       = 1 if |hits| > 0 else 0
* ``ndcg@K``      = DCG / IDCG with binary gains, DCG = sum over hit ranks r (1-based) of
  1 / log2(r + 1), IDCG the same sum over the first min(K, |T_u|) ranks
* ``mrr@K``       = 1 / (rank of the first hit) if it is within K, else 0

Reported values are means over the evaluated users; ``n_users`` is their number.

Rules worth knowing:

* Masked items (score ``-inf``, including any item the model itself scores ``-inf``) are never
  recommended: if fewer than K items remain, the list is shorter, a masked item in the top K never
  counts as a hit, and precision still divides by K.
* Ties are broken by :func:`torch.topk`, which is deterministic on CPU for a given input but does
  not promise an order among equal scores; compare with other code only on scores without ties.
* A target item that is also masked (it lies in train or ``exclude``) still counts in |T_u| but can
  never be hit. In proper splits the sets are disjoint.
* Stored entries of the CSR matrices are interactions; explicit zeros are ignored.

Memory is bounded: users are scored in batches of ``batch_size`` (by default as many as fit
``DEFAULT_SCORE_BYTES`` of float32 scores), and only the ``(B, max K)`` top lists are kept
besides per-user metric arrays. Work per batch is vectorised: one ``index_put_`` masks the
batch's CSR entries, one ``topk``, one ``searchsorted`` of ``row * n_items + item`` keys against
the sorted target keys gives the ``(B, max K)`` hit matrix, and cumulative sums give every
metric at every K.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from fuserec.errors import ConfigError, DataError

#: default memory budget of one batch's (B, n_items) float32 score matrix. Small on purpose: on CPU
#: a batch whose scores stay in cache is faster to mask and rank than a large one (measured in
#: benchmarks/bench_eval.py); pass a larger ``batch_size`` on a GPU.
DEFAULT_SCORE_BYTES = 8 * 2**20

METRICS = ("recall", "precision", "hit", "ndcg", "mrr")

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class PerUserRanking:
    """Per-user ranking metrics.

    users: ``(U,)`` int64 indices of the evaluated users (ascending).
    metrics: key such as ``"recall@20"`` -> ``(U,)`` float64 array aligned with ``users``.
    """

    users: np.ndarray
    metrics: dict[str, np.ndarray]

    def mean(self) -> dict[str, float]:
        """Means over users as a plain dict of floats, plus ``"n_users"``."""
        out = {key: float(values.mean()) for key, values in self.metrics.items()}
        out["n_users"] = int(len(self.users))
        return out


def default_batch_size(n_items: int, budget_bytes: int = DEFAULT_SCORE_BYTES) -> int:
    """Users per batch so that a ``(B, n_items)`` float32 score matrix stays within ``budget_bytes``."""
    return max(1, int(budget_bytes // (4 * max(1, n_items))))


def evaluate_ranking(score_fn: ScoreFn, train: sp.spmatrix, target: sp.spmatrix,
                     ks: Sequence[int] = (5, 10, 20), exclude: sp.spmatrix | None = None,
                     batch_size: int | None = None, users: np.ndarray | None = None,
                     progress: bool = False) -> dict[str, float]:
    """Mean full-ranking metrics over the users with at least one target item.

    Args:
        score_fn: ``score_fn(users: LongTensor (B,)) -> FloatTensor (B, n_items)``. Its output is
            masked in place, so it must return a fresh tensor (a matmul result or an indexed
            copy, not a stored buffer).
        train: ``(n_users, n_items)`` CSR of the training interactions (masked).
        target: ``(n_users, n_items)`` CSR of the held-out interactions (the relevant items).
        ks: cut-offs, positive integers.
        exclude: optional ``(n_users, n_items)`` matrix of further items to mask (e.g. the
            validation split at test time, ``mask_valid_at_test``).
        batch_size: users per batch; default :func:`default_batch_size`.
        users: optional subset of user indices to evaluate (those without target items are skipped).
        progress: show a tqdm progress bar over batches.

    Returns:
        ``{"recall@5": ..., "ndcg@20": ..., "precision@10": ..., "hit@20": ..., "mrr@10": ...,
        "n_users": U}`` for every metric and every K.
    """
    return evaluate_ranking_per_user(score_fn, train, target, ks=ks, exclude=exclude,
                                     batch_size=batch_size, users=users, progress=progress).mean()


def evaluate_embeddings(user_emb: torch.Tensor | np.ndarray, item_emb: torch.Tensor | np.ndarray,
                        train: sp.spmatrix, target: sp.spmatrix, ks: Sequence[int] = (5, 10, 20),
                        exclude: sp.spmatrix | None = None, batch_size: int | None = None,
                        users: np.ndarray | None = None, progress: bool = False) -> dict[str, float]:
    """:func:`evaluate_ranking` for a dot-product model: score = ``user_emb[u] @ item_emb.T``.

    user_emb: ``(n_users, d)``; item_emb: ``(n_items, d)`` (tensors or arrays, same dtype).
    """
    score_fn = dot_product_scorer(user_emb, item_emb)
    return evaluate_ranking(score_fn, train, target, ks=ks, exclude=exclude, batch_size=batch_size,
                            users=users, progress=progress)


def dot_product_scorer(user_emb: torch.Tensor | np.ndarray, item_emb: torch.Tensor | np.ndarray) -> ScoreFn:
    """``score_fn`` for :func:`evaluate_ranking` from ``(n_users, d)`` and ``(n_items, d)`` embeddings."""
    user_t = torch.as_tensor(user_emb).detach()
    item_t = torch.as_tensor(item_emb).detach()
    if user_t.ndim != 2 or item_t.ndim != 2 or user_t.shape[1] != item_t.shape[1]:
        raise ConfigError(f"embeddings must be (n_users, d) and (n_items, d); got {tuple(user_t.shape)} "
                          f"and {tuple(item_t.shape)}")
    item_t_t = item_t.t()

    def score(batch_users: torch.Tensor) -> torch.Tensor:
        return user_t[batch_users.to(user_t.device)] @ item_t_t

    return score


def evaluate_ranking_per_user(score_fn: ScoreFn, train: sp.spmatrix, target: sp.spmatrix,
                              ks: Sequence[int] = (5, 10, 20), exclude: sp.spmatrix | None = None,
                              batch_size: int | None = None, users: np.ndarray | None = None,
                              progress: bool = False) -> PerUserRanking:
    """Like :func:`evaluate_ranking` but keeps one value per evaluated user (for significance tests)."""
    ks = _check_ks(ks)
    k_max = max(ks)
    target = _binary_csr(target, "target")
    n_users, n_items = target.shape
    mask = _binary_csr(train, "train")
    _check_shape(mask, target.shape, "train")
    if exclude is not None:
        exclude = _binary_csr(exclude, "exclude")
        _check_shape(exclude, target.shape, "exclude")
        mask = _binary_csr(mask + exclude, "train + exclude")

    n_target = np.diff(target.indptr)
    if users is None:
        eval_users = np.flatnonzero(n_target > 0).astype(np.int64)
    else:
        eval_users = np.unique(np.asarray(users, dtype=np.int64))
        if len(eval_users) and (eval_users[0] < 0 or eval_users[-1] >= n_users):
            raise ConfigError(f"user indices must lie in [0, {n_users}); got {eval_users[0]}..{eval_users[-1]}",
                              "users")
        eval_users = eval_users[n_target[eval_users] > 0]
    if len(eval_users) == 0:
        raise DataError("no user has an item in the target split: nothing to evaluate")
    if batch_size is None:
        batch_size = default_batch_size(n_items)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}", "batch_size")

    # Rows of the evaluated users only, in evaluation order; cumulative offsets to slice batches.
    mask_sub = mask[eval_users]
    target_sub = target[eval_users]
    target_sub.sort_indices()
    mask_rows = np.repeat(np.arange(len(eval_users), dtype=np.int64), np.diff(mask_sub.indptr))
    mask_rows_t = torch.from_numpy(mask_rows)
    mask_cols_t = torch.from_numpy(mask_sub.indices.astype(np.int64))
    # Target membership by binary search of row-major keys row * n_items + item (sorted).
    target_rows = np.repeat(np.arange(len(eval_users), dtype=np.int64), np.diff(target_sub.indptr))
    target_keys_t = torch.from_numpy(target_rows * n_items + target_sub.indices.astype(np.int64))
    n_target_t = torch.from_numpy(n_target[eval_users].astype(np.float64))

    k_idx = torch.tensor([k - 1 for k in ks])
    k_vals = torch.tensor(ks, dtype=torch.float64)
    discounts = 1.0 / torch.log2(torch.arange(2, k_max + 2, dtype=torch.float64))
    idcg_table = torch.cumsum(discounts, 0)
    out = {f"{name}@{k}": np.empty(len(eval_users), dtype=np.float64) for name in METRICS for k in ks}

    starts = range(0, len(eval_users), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="ranking eval", unit="batch")
    with torch.no_grad():
        for start in starts:
            stop = min(start + batch_size, len(eval_users))
            batch = torch.from_numpy(eval_users[start:stop])
            scores = score_fn(batch)
            if scores.shape != (stop - start, n_items):
                raise DataError(f"score_fn returned shape {tuple(scores.shape)}, expected "
                                f"({stop - start}, {n_items})")
            lo, hi = mask_sub.indptr[start], mask_sub.indptr[stop]
            if hi > lo:
                rows = (mask_rows_t[lo:hi] - start).to(scores.device)
                cols = mask_cols_t[lo:hi].to(scores.device)
                scores.index_put_((rows, cols), torch.tensor(float("-inf"), dtype=scores.dtype,
                                                              device=scores.device))
            k = min(k_max, n_items)
            top_vals, top_items = torch.topk(scores, k, dim=1)
            top_vals, top_items = top_vals.cpu(), top_items.cpu()
            if torch.isnan(top_vals).any():
                raise DataError("score_fn returned NaN scores")
            # (B, k) hit matrix: the top item is a target item of its user and was not masked.
            keys = (torch.arange(start, stop).unsqueeze(1) * n_items + top_items)
            lo_t, hi_t = target_sub.indptr[start], target_sub.indptr[stop]
            keys_b = target_keys_t[lo_t:hi_t]
            pos = torch.searchsorted(keys_b, keys).clamp_(max=len(keys_b) - 1)  # every user has >= 1 key
            hits = (keys_b[pos] == keys) & (top_vals > float("-inf"))
            if k < k_max:  # fewer items than the largest cut-off: pad with misses
                hits = torch.nn.functional.pad(hits, (0, k_max - k), value=False)
            _batch_metrics(hits.to(torch.float64), n_target_t[start:stop], ks, k_idx, k_vals,
                           discounts, idcg_table, out, start, stop)
    return PerUserRanking(users=eval_users, metrics=out)


def _batch_metrics(hits: torch.Tensor, n_target: torch.Tensor, ks: tuple[int, ...], k_idx: torch.Tensor,
                   k_vals: torch.Tensor, discounts: torch.Tensor, idcg_table: torch.Tensor,
                   out: dict[str, np.ndarray], start: int, stop: int) -> None:
    """Fill ``out[key][start:stop]`` from a ``(B, K)`` float64 0/1 hit matrix and ``(B,)`` |T_u|."""
    n_hits = torch.cumsum(hits, 1)[:, k_idx]                      # (B, len(ks))
    dcg = torch.cumsum(hits * discounts, 1)[:, k_idx]              # (B, len(ks))
    ideal_len = torch.minimum(k_vals.unsqueeze(0), n_target.unsqueeze(1)).long() - 1
    idcg = idcg_table[ideal_len]                                   # (B, len(ks))
    any_hit = hits.any(1)
    first_rank = torch.where(any_hit, hits.argmax(1) + 1, torch.full_like(any_hit, hits.shape[1] + 1,
                                                                          dtype=torch.long))
    mrr = torch.where(first_rank.unsqueeze(1) <= k_vals.unsqueeze(0),
                      1.0 / first_rank.unsqueeze(1).to(torch.float64), torch.zeros((), dtype=torch.float64))
    values = {
        "recall": n_hits / n_target.unsqueeze(1),
        "precision": n_hits / k_vals.unsqueeze(0),
        "hit": (n_hits > 0).to(torch.float64),
        "ndcg": dcg / idcg,
        "mrr": mrr,
    }
    for name, table in values.items():
        arr = table.numpy()
        for j, k in enumerate(ks):
            out[f"{name}@{k}"][start:stop] = arr[:, j]


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, (int, np.integer)):
        ks = (int(ks),)
    ks = tuple(ks)
    if not ks or any(not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1 for k in ks):
        raise ConfigError(f"ks must be positive integers, got {ks!r}", "ks")
    return tuple(sorted({int(k) for k in ks}))


def _binary_csr(matrix: sp.spmatrix, name: str) -> sp.csr_matrix:
    """Canonical CSR copy (sorted, no duplicates, no explicit zeros) of an interaction matrix."""
    if not sp.issparse(matrix):
        raise DataError(f"{name} must be a scipy.sparse matrix, got {type(matrix).__name__}")
    mat = sp.csr_matrix(matrix, copy=True)
    mat.sum_duplicates()
    mat.eliminate_zeros()
    return mat


def _check_shape(matrix: sp.csr_matrix, shape: tuple[int, int], name: str) -> None:
    if matrix.shape != shape:
        raise DataError(f"{name} has shape {matrix.shape} but target has shape {shape}")
