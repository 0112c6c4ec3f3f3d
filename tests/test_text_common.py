"""A small restaurant dataset for the text tests, and tests of the fact sheets built from it.

Valid and test reviews carry the marker word :data:`MARKER`; no text may ever contain it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fuserec.data.dataset import FieldSpec, build_dataset
from fuserec.text.facts import FactsOptions, build_facts, facts_hash

MARKER = "zqxleakmarker"
CUISINES = ["thai", "italian", "mexican", "sushi", "vegan"]


def make_dataset(n_users: int = 12, n_items: int = 10, seed: int = 0, name: str = "textfix"):
    """Users rate 5-7 restaurants each; the last two of each user go to valid and test."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        items = rng.choice(n_items, size=int(rng.integers(5, 8)), replace=False)
        for k, i in enumerate(items):
            rating = int(rng.integers(1, 6))
            split = "train" if k < len(items) - 2 else ("valid" if k == len(items) - 2 else "test")
            words = ["tasty", "friendly", "noisy", "slow", "cheap", "cosy"]
            review = f"{' '.join(rng.choice(words, 3))} place, rated {rating}"
            if split != "train":
                review += f" {MARKER}"
            rows.append({"user": f"u{u}", "item": f"r{i}", "rating": rating, "timestamp": 1000 * u + k,
                         "split": split, "review": review})
    inter = pd.DataFrame(rows)
    items = pd.DataFrame({
        "name": [f"Restaurant {i}" for i in range(n_items)],
        "cuisine": [CUISINES[i % len(CUISINES)] for i in range(n_items)],
        "tags": [["outdoor", "family"] if i % 2 else ["bar"] for i in range(n_items)],
        "price": [float(10 + 5 * (i % 3)) for i in range(n_items)],
    }, index=[f"r{i}" for i in range(n_items)])
    users = pd.DataFrame({"budget": ["low" if u % 2 else "high" for u in range(n_users)],
                          "city": ["Lyon" if u % 3 else "Paris" for u in range(n_users)]},
                         index=[f"u{u}" for u in range(n_users)])
    fields = [FieldSpec("name", "token", "item"), FieldSpec("cuisine", "token", "item"),
              FieldSpec("tags", "token_seq", "item"), FieldSpec("price", "float", "item"),
              FieldSpec("budget", "token", "user"), FieldSpec("city", "token", "user")]
    return build_dataset(name, inter, source="fixture", item_features=items, user_features=users,
                         fields=fields, meta={"label_threshold": 4.0})


def test_fixture_has_marker_only_outside_training():
    ds = make_dataset()
    has = ds.interactions["review"].str.contains(MARKER).to_numpy()
    assert has.any()
    assert (ds.interactions["split"].to_numpy()[has] != 0).all()


def test_facts_come_from_training_only():
    ds = make_dataset()
    train = ds.split_frame("train")
    sheets = build_facts(ds, "user")
    for u, sheet in enumerate(sheets):
        mine = train[train["user"] == u]
        assert sheet["training_interactions"] == len(mine)
        assert sheet["mean_rating"] == pytest.approx(round(mine["rating"].mean(), 2))
        assert sheet["liked"] == int((mine["rating"] >= 4).sum())
        liked_titles = {f"Restaurant {ds.item_ids[i][1:]}" for i in mine["item"][mine["rating"] >= 4]}
        assert set(sheet.get("liked_items", [])) <= liked_titles
        assert MARKER not in str(sheet)


def test_item_facts_aggregate_user_attributes_of_likers():
    ds = make_dataset()
    train = ds.split_frame("train")
    sheets = build_facts(ds, "item", options=FactsOptions(top_values=5))
    for i, sheet in enumerate(sheets):
        likers = train[(train["item"] == i) & (train["rating"] >= 4)]["user"]
        expected = ds.user_features.loc[likers, "budget"].value_counts()
        got = {v.rsplit(" (", 1)[0]: int(v.rsplit("(", 1)[1].rstrip(")"))
               for v in sheet.get("liked_by", {}).get("budget", [])}
        assert got == expected.to_dict()


def test_facts_hash_changes_only_for_the_changed_item():
    ds = make_dataset()
    before = [facts_hash(s) for s in build_facts(ds, "item")]
    feats = ds.item_features.copy()
    feats.loc[3, "cuisine"] = "korean"
    after = [facts_hash(s) for s in build_facts(ds.replace(item_features=feats), "item")]
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed == [3]
