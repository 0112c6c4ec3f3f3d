"""Train/valid/test splits: as given by the source, per-user random ratio, or temporal leave-last-out.

All are vectorised over interactions (no per-user Python loop) and seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from fuserec.config import check_range
from fuserec.data.dataset import TEST, TRAIN, VALID, Dataset
from fuserec.errors import ConfigError, DataError


@dataclass
class SplitConfig:
    """How to split interactions.

    method: ``auto`` keeps the source's split when it has one and otherwise uses ``ratio``;
        ``source`` requires the source's split; ``ratio`` draws, per user, a random share of the
        user's interactions for valid and test; ``temporal`` puts each user's last interaction
        in test and the one before in valid (leave-last-out; ties broken by item index).
    ratios: (train, valid, test) shares for ``ratio``; must sum to 1.
    seed: random seed of ``ratio``.
    min_user_interactions: users with fewer interactions keep them all in train.
    ``cold_items`` / ``cold_users``: a seeded ``ratio`` of the items (users) is cold, all their
        interactions in valid/test (:mod:`fuserec.data.cold_splits`).
    ratio: the cold share of ``cold_items`` / ``cold_users``.
    train_fraction: keep this seeded share of the training interactions (sparsity), drop the rest.
    """

    method: Literal["auto", "source", "ratio", "temporal", "cold_items", "cold_users"] = "auto"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 2024
    min_user_interactions: int = 3
    ratio: float = 0.2
    train_fraction: float = 1.0

    def validate(self) -> None:
        for i, r in enumerate(self.ratios):
            check_range(r, f"split.ratios[{i}]", 0.0, 1.0)
        if abs(sum(self.ratios) - 1.0) > 1e-6:
            raise ConfigError(f"must sum to 1, got {sum(self.ratios):.6g}", "split.ratios")
        if self.ratios[0] <= 0:
            raise ConfigError("the train share must be positive", "split.ratios")
        check_range(self.min_user_interactions, "split.min_user_interactions", 1)
        check_range(self.ratio, "split.ratio", 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        check_range(self.train_fraction, "split.train_fraction", 0.0, 1.0, low_inclusive=False)

    def apply(self, dataset: Dataset) -> Dataset:
        """``dataset`` split as this config says (:func:`apply_split`)."""
        return apply_split(dataset, self)


def apply_split(dataset: Dataset, config: SplitConfig) -> Dataset:
    """Return ``dataset`` with its ``split`` column set as ``config`` says (then thinned to
    ``train_fraction`` of its training interactions)."""
    from fuserec.data.cold_splits import thin_training

    return thin_training(_assign(dataset, config), config.train_fraction, config.seed)


def _assign(dataset: Dataset, config: SplitConfig) -> Dataset:
    has_source_split = dataset.is_split
    method = config.method
    if method == "auto":
        method = "source" if has_source_split else "ratio"
    if method == "source":
        if not has_source_split:
            raise DataError(f"split.method is 'source' but {dataset.name} has no split of its own; "
                            "use 'ratio' or 'temporal'", dataset.meta.get("path"), field="split")
        return dataset
    if method in ("cold_items", "cold_users"):
        from fuserec.data.cold_splits import apply_cold_split

        return apply_cold_split(dataset, method, config.ratio, config.seed)
    frame = dataset.interactions
    users = frame["user"].to_numpy()
    if method == "ratio":
        rng = np.random.default_rng(config.seed)
        keys = rng.random(len(frame))
        order = np.lexsort((keys, users))
    else:
        if not dataset.has_timestamps:
            raise DataError(f"split.method 'temporal' needs timestamps and {dataset.name} has none",
                            dataset.meta.get("path"), field="timestamp")
        ts = frame["timestamp"].fillna(-np.inf).to_numpy()
        order = np.lexsort((frame["item"].to_numpy(), ts, users))
    counts = np.bincount(users, minlength=dataset.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_users = users[order]
    rank = np.arange(len(order)) - starts[sorted_users]          # 0-based position within the user
    size = counts[sorted_users]
    if method == "ratio":
        n_test = np.rint(size * config.ratios[2]).astype(np.int64)
        n_valid = np.rint(size * config.ratios[1]).astype(np.int64)
    else:
        n_test = np.ones_like(size)
        n_valid = np.ones_like(size)
    # Always keep at least one training interaction.
    n_test = np.minimum(n_test, np.maximum(size - 1, 0))
    n_valid = np.minimum(n_valid, np.maximum(size - 1 - n_test, 0))
    small = size < config.min_user_interactions
    n_test[small] = 0
    n_valid[small] = 0
    code = np.full(len(order), TRAIN, dtype=np.int8)
    code[rank >= size - n_test] = TEST
    code[(rank >= size - n_test - n_valid) & (rank < size - n_test)] = VALID
    split = np.empty(len(order), dtype=np.int8)
    split[order] = code
    new_frame = frame.copy()
    new_frame["split"] = split
    meta = dict(dataset.meta, split=f"{method}" + (f"(seed={config.seed}, ratios={list(config.ratios)})"
                                                    if method == "ratio" else "(leave-last-out)"))
    return dataset.replace(interactions=new_frame, meta=meta)
