"""The pointwise data path (fuserec/data/features.py): vocabularies, bags, dense fields, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dlrm_fixtures import restaurant_world
from fuserec.data.dataset import FieldSpec, build_dataset
from fuserec.data.features import (UNKNOWN, FeatureConfig, build_features, gather_bags, resolve_threshold)
from fuserec.errors import ConfigError, DataError
from helpers import real_data


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world():
    return restaurant_world()


def test_schema_and_vocabulary(world):
    feats = build_features(world)
    keys = [f.key for f in feats.sparse_fields]
    assert keys == ["user_id", "item_id", "item.cuisine", "item.price", "item.city", "user.age"]
    sizes = {f.key: f.num_embeddings for f in feats.sparse_fields}
    assert sizes["user_id"] == world.n_users + 1 and sizes["item_id"] == world.n_items + 1
    # every token of every entity is in the vocabulary (built on all entities), plus index 0
    cuisines = sorted({c for cell in world.item_features["cuisine"] for c in cell})
    assert list(feats.vocabularies["item.cuisine"]) == cuisines
    assert sizes["item.cuisine"] == len(cuisines) + 1
    assert sizes["item.price"] == world.item_features["price"].dropna().nunique() + 1
    assert [f.key for f in feats.dense_fields] == ["user.budget", "item.stars"]
    assert {f.key: f.multi for f in feats.sparse_fields}["item.cuisine"]


def test_bags_match_a_per_entity_reference(world):
    feats = build_features(world)
    vocab = {t: k + 1 for k, t in enumerate(feats.vocabularies["item.cuisine"])}
    indptr, values = feats.item.bags["item.cuisine"]
    for i, cell in enumerate(world.item_features["cuisine"]):
        got = values[indptr[i]:indptr[i + 1]].tolist()
        want = sorted(vocab[c] for c in cell) if cell else [UNKNOWN]
        assert sorted(got) == want, i
    # missing token -> the reserved index 0; present tokens -> 1..V
    pindptr, pvalues = feats.item.bags["item.price"]
    missing = world.item_of("r1")                       # price of r1 is missing in the fixture
    assert pvalues[pindptr[missing]].item() == UNKNOWN
    assert (pvalues[np.arange(world.n_items) != missing] > 0).all()
    empty = world.item_of("r0")                         # r0 has no cuisine: the bag [0]
    assert values[indptr[empty]:indptr[empty + 1]].tolist() == [UNKNOWN]


def test_dense_fields_use_training_statistics(world):
    feats = build_features(world)
    train = world.split_frame("train")
    stars = world.item_features["stars"].to_numpy(dtype=float)
    seen = stars[train["item"].to_numpy()]
    seen = seen[np.isfinite(seen)]
    mean, std = seen.mean(), seen.std()
    col = [f.key for f in feats.dense_fields if f.side == "item"].index("item.stars")
    got = feats.item.dense[:, col].numpy()
    want = np.where(np.isfinite(stars), (stars - mean) / std, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got[world.item_of("r2")] == 0.0               # the missing value sits at the mean
    # the training examples are standardised: mean 0, std 1 over them (missing excluded)
    train_vals = got[train["item"].to_numpy()][np.isfinite(stars[train["item"].to_numpy()])]
    assert abs(train_vals.mean()) < 1e-5 and abs(train_vals.std() - 1) < 1e-4


def test_labels_and_splits(world):
    feats = build_features(world)
    for name, code in (("train", 0), ("valid", 1), ("test", 2)):
        frame = world.interactions[world.interactions["split"] == code]
        ex = feats.splits[name]
        assert ex.users.tolist() == frame["user"].tolist()
        assert ex.items.tolist() == frame["item"].tolist()
        assert ex.labels.tolist() == (frame["rating"] >= 4.0).astype(float).tolist()
    assert feats.class_counts("train") == (int((feats.splits["train"].labels == 0).sum()),
                                           int(feats.splits["train"].labels.sum()))
    other = build_features(world, FeatureConfig(label_threshold=5.0))
    assert other.splits["train"].labels.sum() < feats.splits["train"].labels.sum()


def test_lookup_equals_per_example_reference(world):
    feats = build_features(world)
    gen = torch.Generator().manual_seed(0)
    users = torch.randint(0, world.n_users, (50,), generator=gen)
    items = torch.randint(0, world.n_items, (50,), generator=gen)
    batch = feats.lookup(users, items)
    for f in feats.sparse_fields:
        values, offsets = batch.sparse[f.key]
        ents = users if f.side == "user" else items
        indptr, table = (feats.user if f.side == "user" else feats.item).bags[f.key]
        bounds = offsets.tolist() + [len(values)]
        for b, e in enumerate(ents.tolist()):
            assert values[bounds[b]:bounds[b + 1]].tolist() == table[indptr[e]:indptr[e + 1]].tolist()
    assert batch.dense.shape == (50, 2)
    np.testing.assert_array_equal(batch.dense[:, 0].numpy(), feats.user.dense[users, 0].numpy())
    np.testing.assert_array_equal(batch.dense[:, 1].numpy(), feats.item.dense[items, 0].numpy())


def test_gather_bags_handles_repeats_and_single_rows():
    indptr = torch.tensor([0, 2, 3, 6])
    values = torch.tensor([5, 6, 7, 8, 9, 10])
    vals, offs = gather_bags(indptr, values, torch.tensor([2, 0, 2, 1]))
    assert vals.tolist() == [8, 9, 10, 5, 6, 8, 9, 10, 7]
    assert offs.tolist() == [0, 3, 5, 8]
    vals, offs = gather_bags(indptr, values, torch.tensor([], dtype=torch.long))
    assert vals.numel() == 0 and offs.numel() == 0


def test_field_selection_and_errors(world):
    feats = build_features(world, FeatureConfig(fields=["item.cuisine", "user.budget"], include_ids=False))
    assert [f.key for f in feats.sparse_fields] == ["item.cuisine"]
    assert [f.key for f in feats.dense_fields] == ["user.budget"]
    feats = build_features(world, FeatureConfig(exclude=["item.city"]))
    assert "item.city" not in [f.key for f in feats.sparse_fields]
    with pytest.raises(ConfigError, match="item.cuisin"):
        build_features(world, FeatureConfig(fields=["item.cuisin"]))
    with pytest.raises(ConfigError, match="no sparse field"):
        build_features(world, FeatureConfig(fields=["user.budget"], include_ids=False))


def test_min_token_count_maps_rare_tokens_to_unknown(world):
    feats = build_features(world, FeatureConfig(min_token_count=1000))
    indptr, values = feats.item.bags["item.cuisine"]
    assert (values == UNKNOWN).all() and len(feats.vocabularies["item.cuisine"]) == 0


def test_bad_input_is_reported():
    implicit = build_dataset("imp", pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"], "split": ["train", "test"]}),
                             source="imp.csv")
    with pytest.raises(DataError, match="no ratings"):
        build_features(implicit)
    unsplit = build_dataset("uns", pd.DataFrame({"user": ["a", "b"], "item": ["x", "y"], "rating": [1, 5]}),
                            source="uns.csv")
    with pytest.raises(DataError, match="split"):
        build_features(unsplit)


def test_threshold_resolution():
    def ds(ratings, meta=None):
        frame = pd.DataFrame({"user": ["a", "b", "c"], "item": ["x", "y", "z"], "rating": ratings,
                              "split": ["train", "train", "test"]})
        return build_dataset("t", frame, source="t.csv", meta=meta)

    assert resolve_threshold(ds([0, 1, 2]), None) == 2.0           # 0-2 scale (UCI)
    assert resolve_threshold(ds([1, 3, 5]), None) == 4.0
    assert resolve_threshold(ds([1, 3, 5], {"label_threshold": 3.5}), None) == 3.5
    assert resolve_threshold(ds([1, 3, 5], {"label_threshold": 3.5}), 5.0) == 5.0
    feats = build_features(ds([0, 1, 2]), FeatureConfig())
    assert feats.splits["train"].labels.tolist() == [0.0, 0.0]


def test_ids_and_fields_of_entities_seen_only_in_test():
    """An item seen only in the test split still has its static fields in the vocabulary."""
    frame = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "z"], "rating": [5, 1, 4],
                          "split": ["train", "train", "test"]})
    items = pd.DataFrame({"genre": [["rock"], ["pop"], ["jazz"]]}, index=["x", "y", "z"])
    dataset = build_dataset("t", frame, source="t.csv", item_features=items,
                            fields=[FieldSpec("genre", "token_seq", "item")])
    feats = build_features(dataset)
    assert "jazz" in feats.vocabularies["item.genre"]
    values, _ = feats.lookup(torch.tensor([1]), torch.tensor([dataset.item_of("z")])).sparse["item.genre"]
    assert values.item() == list(feats.vocabularies["item.genre"]).index("jazz") + 1


def test_synthetic_restaurants():
    from fuserec.data import load_dataset

    dataset = load_dataset({"format": "synthetic", "options": {"n_users": 200, "n_items": 60, "n_reviews": 2000}})
    feats = build_features(dataset)
    keys = [f.key for f in feats.sparse_fields]
    assert {"item.cuisine", "item.price", "item.city", "item.ambience"} <= set(keys)
    assert any(k.startswith("user.") for k in keys)
    assert 0.5 < feats.splits["train"].positive_rate < 0.95


def test_movielens_100k_atomic():
    from fuserec.data import load_dataset

    path = real_data("movielens", "ml-100k")
    dataset = load_dataset({"format": "atomic", "path": str(path)})
    feats = build_features(dataset)
    keys = [f.key for f in feats.sparse_fields]
    assert {"item.genres", "item.release_year", "user.age", "user.gender", "user.occupation"} <= set(keys)
    assert feats.threshold == 4.0
    total = sum(len(e) for e in feats.splits.values())
    assert total == 100_000
    rate = float(torch.cat([e.labels for e in feats.splits.values()]).mean())
    assert abs(rate - 0.55375) < 1e-4                   # share of ML-100K ratings >= 4
    genres = dict(zip(feats.vocabularies["item.genres"], range(1, 100)))
    assert "Comedy" in genres and len(genres) >= 18
    indptr, values = feats.item.bags["item.genres"]
    toy = dataset.item_of("1")                          # Toy Story: Animation, Children's, Comedy
    assert sorted(values[indptr[toy]:indptr[toy + 1]].tolist()) == sorted(
        genres[g] for g in ("Animation", "Children's", "Comedy"))


def test_uci_restaurants():
    pytest.importorskip("fuserec.data.loaders.uci_restaurant", reason="the UCI loader is not in this tree yet")
    from fuserec.data import load_dataset

    path = real_data("uci-restaurant")
    dataset = load_dataset({"format": "uci-restaurant", "path": str(path)})
    feats = build_features(dataset)
    assert feats.threshold == 2.0
    assert sum(len(e) for e in feats.splits.values()) == 1161
    assert len([f for f in feats.sparse_fields if f.side == "item"]) >= 4
    rate = float(torch.cat([e.labels for e in feats.splits.values()]).mean())
    assert 0.2 < rate < 0.6                             # rating 2 of 0/1/2
