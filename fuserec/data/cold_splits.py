"""Regimes where text must matter: entity-level cold start and thinned training data.

* ``cold_items`` / ``cold_users`` (``split: {method: cold_items, ratio: 0.2}``): a seeded random
  ``ratio`` of the items (users) is cold: every interaction of a cold entity goes to valid or
  test (half each, seeded), none to train; every other interaction is training data. The model
  has seen no interaction of a cold entity, only its side fields and text.
* ``train_fraction`` (any method): after the split, keep a seeded random share of the training
  interactions and drop the rest from the dataset (valid and test unchanged): the sparsity sweep
  (e.g. 0.1-0.3).

Vectorised over interactions; the chosen cold entities are recorded in ``dataset.meta``.
"""

from __future__ import annotations

import numpy as np

from fuserec.data.dataset import TEST, TRAIN, VALID, Dataset
from fuserec.errors import DataError

COLD_METHODS = ("cold_items", "cold_users")


def cold_entities(n: int, ratio: float, seed: int) -> np.ndarray:
    """Sorted indices of the ``round(ratio * n)`` (at least 1, at most n - 1) cold entities."""
    k = int(np.clip(round(ratio * n), 1, max(n - 1, 1)))
    return np.sort(np.random.default_rng(seed).permutation(n)[:k])


def apply_cold_split(dataset: Dataset, method: str, ratio: float, seed: int) -> Dataset:
    """``dataset`` with cold ``users`` or ``items`` (``method`` in :data:`COLD_METHODS`): their
    interactions in valid/test, all others in train."""
    if method not in COLD_METHODS:
        raise ValueError(f"method must be one of {COLD_METHODS}, got {method!r}")
    side = "item" if method == "cold_items" else "user"
    n = dataset.n_items if side == "item" else dataset.n_users
    if n < 2:
        raise DataError(f"a {method} split needs at least two {side}s", dataset.meta.get("path"), field=side)
    cold = cold_entities(n, ratio, seed)
    frame = dataset.interactions
    is_cold = np.isin(frame[side].to_numpy(), cold)
    if not is_cold.any():
        raise DataError(f"the chosen cold {side}s have no interactions", dataset.meta.get("path"), field=side)
    rng = np.random.default_rng([seed, 1])
    split = np.full(len(frame), TRAIN, dtype=np.int8)
    split[is_cold] = np.where(rng.random(int(is_cold.sum())) < 0.5, VALID, TEST)
    new_frame = frame.copy()
    new_frame["split"] = split
    meta = dict(dataset.meta, split=f"{method}(seed={seed}, ratio={ratio})", cold_side=side,
                cold_entities=cold.tolist())
    return dataset.replace(interactions=new_frame, meta=meta)


def thin_training(dataset: Dataset, fraction: float, seed: int) -> Dataset:
    """Keep a seeded ``fraction`` of the training interactions (at least one per user who had
    any), drop the rest; valid and test are unchanged."""
    if fraction >= 1.0:
        return dataset
    frame = dataset.interactions
    train = frame["split"].to_numpy() == TRAIN
    rng = np.random.default_rng([seed, 2])
    keep = ~train | (rng.random(len(frame)) < fraction)
    # A user keeps one training interaction (the one with the smallest draw) so that nobody turns cold.
    users = frame["user"].to_numpy()
    draw = np.where(train, rng.random(len(frame)), np.inf)
    order = np.lexsort((draw, users))
    first = order[np.r_[True, users[order][1:] != users[order][:-1]]]
    keep[first[train[first]]] = True
    new_frame = frame[keep].reset_index(drop=True)
    meta = dict(dataset.meta, split=f"{dataset.meta.get('split', '')}+train_fraction({fraction})",
                train_fraction=fraction)
    return dataset.replace(interactions=new_frame, meta=meta)
