"""What counts as a positive interaction: one rule for pointwise labels, SWING and reports.

* :func:`resolve_threshold`: the configured threshold, else the dataset's
  (``meta["label_threshold"]``), else 2 for rating scales topping at 2 and 4 otherwise; None for
  a dataset without ratings (implicit feedback: every interaction is positive).
* :func:`labels`: 1.0 where ``rating >= threshold`` (float32).
* :func:`positives_matrix`: the ``(n_users, n_items)`` binary CSR of a split's positives.

``fuserec swing``, DLRREC's SWING neighbours and the pointwise task all use these, so they agree
on every dataset.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp

from fuserec.data.dataset import Dataset
from fuserec.errors import DataError


def resolve_threshold(dataset: Dataset, configured: float | None = None) -> float | None:
    """The label threshold: ``configured``, the dataset's, else 2 (0-2 scales) or 4; None if unrated."""
    if configured is not None:
        return float(configured)
    own = dataset.label_threshold()
    if own is not None:
        return float(own)
    if not dataset.has_ratings:
        return None
    top = float(np.nanmax(dataset.interactions["rating"].to_numpy()))
    return 2.0 if top <= 2.0 else 4.0


def labels(ratings: np.ndarray, threshold: float) -> np.ndarray:
    """(N,) float32: 1.0 where ``ratings >= threshold`` else 0.0 (NaN ratings are 0)."""
    with np.errstate(invalid="ignore"):
        return (np.asarray(ratings) >= threshold).astype(np.float32)


def positives_matrix(dataset: Dataset, split: str | Sequence[str] = "train",
                     threshold: float | None = None) -> sp.csr_matrix:
    """``(n_users, n_items)`` binary float32 CSR of the positive interactions of ``split``.

    Positives are ratings ``>= resolve_threshold(dataset, threshold)``; every interaction of a
    dataset without ratings. DataError when the split has no interaction at all.
    """
    splits = [split] if isinstance(split, str) else list(split)
    mask = np.zeros(dataset.n_interactions, dtype=bool)
    for s in splits:
        mask |= dataset.split_mask(s)
    if not mask.any():
        raise DataError(f"dataset {dataset.name!r} has no {'/'.join(splits)} interactions",
                        dataset.meta.get("path"), field="split")
    frame = dataset.interactions
    thr = resolve_threshold(dataset, threshold)
    if thr is not None:
        mask &= labels(frame["rating"].to_numpy(), thr) > 0.5
    users, items = frame["user"].to_numpy()[mask], frame["item"].to_numpy()[mask]
    mat = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)),
                        shape=(dataset.n_users, dataset.n_items))
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat
