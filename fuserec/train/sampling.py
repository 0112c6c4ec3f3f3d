"""Uniform negative sampling for BPR, vectorised over all training edges at once."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class NegativeSampler:
    """Draws, for each (user, item) edge, one item the user has not interacted with in ``train``.

    Membership is tested on sorted keys ``user * n_items + item`` with ``np.searchsorted``; only
    the draws that hit a positive are redrawn, round after round (no per-edge Python loop).
    Users who interacted with every item cannot get a negative; :attr:`sampleable` marks the
    edges of the other users.
    """

    def __init__(self, train: sp.csr_matrix, max_rounds: int = 1000):
        train = train.tocsr().copy()
        train.sort_indices()
        self.n_items = int(train.shape[1])
        self.users = np.repeat(np.arange(train.shape[0], dtype=np.int64), np.diff(train.indptr))  # (E,)
        self.items = train.indices.astype(np.int64)                                                # (E,)
        self.keys = self.users * self.n_items + self.items          # sorted, since CSR rows are
        degree = np.diff(train.indptr)
        self.sampleable = degree[self.users] < self.n_items          # (E,) bool
        self.max_rounds = max_rounds

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(N,) bool: whether each (user, item) pair is a training edge."""
        query = users.astype(np.int64) * self.n_items + items.astype(np.int64)
        pos = np.searchsorted(self.keys, query)
        pos = np.minimum(pos, len(self.keys) - 1)
        return self.keys[pos] == query

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(N,) int64 negatives for ``users`` (N,); every user must have a non-positive item."""
        neg = rng.integers(0, self.n_items, size=len(users), dtype=np.int64)
        todo = np.flatnonzero(self.contains(users, neg))
        rounds = 0
        while len(todo):
            rounds += 1
            if rounds > self.max_rounds:
                raise RuntimeError(f"negative sampling did not finish after {self.max_rounds} rounds")
            neg[todo] = rng.integers(0, self.n_items, size=len(todo), dtype=np.int64)
            todo = todo[self.contains(users[todo], neg[todo])]
        return neg
