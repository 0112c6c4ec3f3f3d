"""Small structured datasets for the trainer, model and CLI tests (built in memory, seeded)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fuserec.data.dataset import Dataset, build_dataset


def clustered_interactions(n_users: int = 120, n_items: int = 60, n_groups: int = 4, per_user: int = 10,
                           noise: int = 1, seed: int = 0) -> pd.DataFrame:
    """Users of group g mostly interact with the items of block g; a few random items each.

    Split per user: 2 interactions to test, 1 to valid, the rest to train. Raw ids are strings
    ``u<k>`` / ``i<k>``. Item popularity is roughly flat, so popularity cannot rank well here,
    while a latent-factor model can learn the blocks.
    """
    rng = np.random.default_rng(seed)
    block = n_items // n_groups
    rows = []
    for u in range(n_users):
        g = u % n_groups
        own = rng.choice(np.arange(g * block, (g + 1) * block), size=min(per_user, block), replace=False)
        extra = rng.choice(n_items, size=noise, replace=False)
        items = list(dict.fromkeys([*own.tolist(), *extra.tolist()]))
        rng.shuffle(items)
        splits = ["test", "test", "valid"] + ["train"] * (len(items) - 3)
        rows += [(f"u{u}", f"i{i}", s) for i, s in zip(items, splits)]
    return pd.DataFrame(rows, columns=["user", "item", "split"])


def clustered_dataset(**kwargs) -> Dataset:
    frame = clustered_interactions(**kwargs)
    return build_dataset("toy", frame, source="<toy>", item_universe=None)


def with_cold_user(frame: pd.DataFrame, raw_user: str = "cold", item: str = "i0") -> pd.DataFrame:
    """Add a user whose only interaction is in the test split (no training interaction)."""
    return pd.concat([frame, pd.DataFrame([(raw_user, item, "test")], columns=frame.columns)], ignore_index=True)
