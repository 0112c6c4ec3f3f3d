"""Small restaurant-like datasets for the DLRM tests, built with ``build_dataset`` (no files)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fuserec.data.dataset import FieldSpec, build_dataset

CUISINES = ["italian", "mexican", "thai", "indian", "french", "greek"]


def restaurant_world(n_users: int = 40, n_items: int = 30, per_user: int = 12, seed: int = 0,
                     with_missing: bool = True):
    """A split dataset with item fields cuisine (token_seq), price, city (token), rating_avg (float)
    and user fields age (token), budget (float); ratings 1-5 driven by a hidden item quality and
    cuisine taste, so labels are learnable. Returns the Dataset."""
    rng = np.random.default_rng(seed)
    item_cuisines = [list(rng.choice(CUISINES, size=rng.integers(1, 3), replace=False)) for _ in range(n_items)]
    price = rng.choice(["$", "$$", "$$$"], size=n_items).astype(object)
    city = rng.choice(["north", "south"], size=n_items).astype(object)
    stars = np.round(rng.uniform(2, 5, size=n_items), 1)
    if with_missing:
        item_cuisines[0] = []          # no cuisine: bag [0]
        price[1] = None                # missing token
        stars[2] = np.nan              # missing float
    taste = rng.normal(size=(n_users, len(CUISINES)))
    quality = rng.normal(scale=1.2, size=n_items)        # an item effect any model can learn from ids
    age = rng.choice(["18-24", "25-34", "35+"], size=n_users).astype(object)
    budget = rng.uniform(10, 60, size=n_users)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=per_user, replace=False)
        for k, i in enumerate(items):
            match = sum(taste[u, CUISINES.index(c)] for c in item_cuisines[i]) if item_cuisines[i] else 0.0
            rating = int(np.clip(np.round(3.6 + quality[i] + 0.5 * match + 0.5 * rng.normal()), 1, 5))
            split = "train" if k < per_user - 4 else ("valid" if k < per_user - 2 else "test")
            rows.append((f"u{u}", f"r{i}", rating, float(u * 100 + k), split))
    inter = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp", "split"])
    items_frame = pd.DataFrame({"cuisine": item_cuisines, "price": price, "city": city, "stars": stars},
                               index=[f"r{i}" for i in range(n_items)])
    users_frame = pd.DataFrame({"age": age, "budget": budget}, index=[f"u{u}" for u in range(n_users)])
    fields = [FieldSpec("cuisine", "token_seq", "item"), FieldSpec("price", "token", "item"),
              FieldSpec("city", "token", "item"), FieldSpec("stars", "float", "item"),
              FieldSpec("age", "token", "user"), FieldSpec("budget", "float", "user")]
    return build_dataset("restaurants", inter, source="fixture", user_features=users_frame,
                         item_features=items_frame, fields=fields, meta={"label_threshold": 4.0})


def semantic_vectors(dataset, dim: int = 48, seed: int = 1) -> dict[str, np.ndarray]:
    """Random unit vectors standing in for text embeddings: ``user_text``, ``item_text``."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("user_text", dataset.n_users), ("item_text", dataset.n_items)):
        v = rng.normal(size=(n, dim)).astype(np.float32)
        out[name] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def with_reviews(ds):
    """``ds`` with a review per interaction that states its rating (the leakage the probe measures)."""
    frame = ds.interactions.copy()
    frame["review"] = [f"{'Loved it' if r >= 4 else 'Did not like it'}, {int(r)} stars." for r in frame["rating"]]
    return ds.replace(interactions=frame)
